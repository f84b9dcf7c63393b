"""Benchmark: our exported encoder (loaded SavedModel, `serving_default`) vs Hugging Face PyTorch.

Run from the repository root: `python -m bench.encoder` (about 15 minutes on 2 idle cores).

A randomly initialized roberta-base is saved with `save_pretrained` to a temporary directory,
imported and exported with hubexport, and reloaded; the Hugging Face side is `RobertaModel`
loaded from the same directory (default attention, `torch.inference_mode`). Both get 2 threads.
With `--bfloat16` a third candidate, the same checkpoint exported with `--dtype=mixed_bfloat16`
(bfloat16 matmuls, which this CPU runs on AMX), is timed in the same rounds; its difference from HF
is reported, not held to the float32 tolerance.
Each shape is timed in interleaved rounds in this one process (median of `--rounds` after
warm-up), with the same random ids (no padding); the largest difference of `sequence_output`
from HF's `last_hidden_state` is checked on every shape. A shape measured while the load
average exceeded `--max_load` is measured again (see bench/machine_load.py). Prints a table and
writes bench/results/encoder.json and the README table bench/results/encoder_table.md.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import argparse
import pathlib
import tempfile
from collections.abc import Callable

import numpy as np

from bench import machine_load, timing
from bench.hf_roberta import save_random_roberta

RESULTS = pathlib.Path(__file__).parent / "results"
TABLE_SHAPES = ((1, 128), (8, 128), (4, 512))
CURVE_LENGTHS = (32, 64, 128, 256, 384, 512)
PARITY_TOLERANCE = 1e-4


def random_ids(batch: int, length: int, seed: int = 0) -> np.ndarray:
    """Token ids framed as RoBERTa does (<s> ... </s>), every position a real token."""
    ids = np.random.default_rng(seed).integers(3, 50000, size=(batch, length)).astype(np.int32)
    ids[:, 0], ids[:, -1] = 0, 2
    return ids


def candidates(
    serving, hf_model, ids: np.ndarray, bfloat16_serving=None
) -> tuple[dict[str, Callable[[], np.ndarray]], dict[str, float]]:
    """Zero-argument runners on `ids`, and each of ours' largest output difference from HF."""
    import tensorflow as tf
    import torch

    feeds = {"input_word_ids": tf.constant(ids), "input_mask": tf.ones_like(ids), "input_type_ids": tf.zeros_like(ids)}
    torch_ids, torch_mask = torch.tensor(ids, dtype=torch.long), torch.ones(ids.shape, dtype=torch.long)

    def run(endpoint) -> Callable[[], np.ndarray]:
        return lambda: endpoint(**feeds)["sequence_output"].numpy()

    def hugging_face() -> np.ndarray:
        with torch.inference_mode():
            return hf_model(input_ids=torch_ids, attention_mask=torch_mask).last_hidden_state.numpy()

    runners = {"hubexport": run(serving), "hf_pytorch": hugging_face}
    if bfloat16_serving is not None:
        runners["hubexport_bfloat16"] = run(bfloat16_serving)
    reference = hugging_face()
    differences = {
        name: float(np.max(np.abs(runner() - reference))) for name, runner in runners.items() if name != "hf_pytorch"
    }
    if not differences["hubexport"] <= PARITY_TOLERANCE:
        raise SystemExit(f"outputs differ by {differences['hubexport']} at {ids.shape}: not the same model")
    return runners, differences


def measure_shape(serving, hf_model, batch: int, length: int, args, bfloat16_serving=None) -> dict:
    """Sequences/s of every candidate at one shape, measured when the machine is quiet enough."""
    runners, differences = candidates(serving, hf_model, random_ids(batch, length), bfloat16_serving)
    seconds, load, runs = machine_load.measure_quietly(
        lambda: timing.interleaved_medians(runners, rounds=args.rounds, warmup=2), args.max_load, args.retries
    )
    ours, hf = batch / seconds["hubexport"], batch / seconds["hf_pytorch"]
    row = {
        "batch": batch,
        "seq_length": length,
        "hubexport_seq_per_s": ours,
        "hf_seq_per_s": hf,
        "ratio": ours / hf,
        "max_abs_difference": differences["hubexport"],
        "load_average": load,
        "runs": runs,
    }
    if bfloat16_serving is not None:
        row["bfloat16_seq_per_s"] = batch / seconds["hubexport_bfloat16"]
        row["bfloat16_ratio"] = row["bfloat16_seq_per_s"] / hf
        row["bfloat16_max_abs_difference"] = differences["hubexport_bfloat16"]
    return row


def bfloat16_cells(row: dict) -> tuple[str, ...]:
    """The bfloat16 candidate's throughput, ratio to HF and difference from HF, if it was measured."""
    if "bfloat16_seq_per_s" not in row:
        return ()
    return (
        f"{row['bfloat16_seq_per_s']:.2f}",
        f"{row['bfloat16_ratio']:.2f}x",
        f"{row['bfloat16_max_abs_difference']:.1e}",
    )


def markdown_table(rows: list[dict], title: str) -> str:
    """The README table: shape, throughputs, ratio, load average (and the bfloat16 columns)."""
    extra = bool(bfloat16_cells(rows[0]))
    header = "| batch x seq | hubexport (seq/s) | HF PyTorch (seq/s) | ratio | load avg |"
    header += " bfloat16 (seq/s) | bfloat16 ratio | bfloat16 max abs diff |" if extra else ""
    lines = [title, "", header, "|---|---:|---:|---:|---:|" + ("---:|---:|---:|" if extra else "")]
    lines += [
        f"| {r['batch']}x{r['seq_length']} | {r['hubexport_seq_per_s']:.2f} | {r['hf_seq_per_s']:.2f} | "
        f"{r['ratio']:.2f}x | {r['load_average']:.1f} |" + "".join(f" {cell} |" for cell in bfloat16_cells(r))
        for r in rows
    ]
    return "\n".join(lines) + "\n"


def print_rows(title: str, rows: list[dict]) -> None:
    header = ("batch x seq", "hubexport seq/s", "HF seq/s", "ratio", "max |diff|", "load")
    header += ("bf16 seq/s", "bf16 ratio", "bf16 |diff|") if bfloat16_cells(rows[0]) else ()
    timing.print_table(
        title,
        header,
        [
            (
                f"{r['batch']}x{r['seq_length']}",
                f"{r['hubexport_seq_per_s']:.2f}",
                f"{r['hf_seq_per_s']:.2f}",
                f"{r['ratio']:.2f}x",
                f"{r['max_abs_difference']:.1e}",
                f"{r['load_average']:.1f}",
                *bfloat16_cells(r),
            )
            for r in rows
        ],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--intra_op", type=int, default=2)
    parser.add_argument("--inter_op", type=int, default=1)
    parser.add_argument("--torch_threads", type=int, default=2)
    parser.add_argument("--curve_batch", type=int, default=1)
    parser.add_argument("--no_curve", action="store_true", help="only the three table shapes")
    parser.add_argument("--max_load", type=float, default=2.5, help="re-measure above this 1-minute load average")
    parser.add_argument("--retries", type=int, default=2)
    parser.add_argument("--bfloat16", action="store_true", help="also time a --dtype=mixed_bfloat16 export")
    args = parser.parse_args()

    from hubexport.runtime_options import ThreadOptions, apply_thread_options

    apply_thread_options(ThreadOptions(intra_op=args.intra_op, inter_op=args.inter_op))
    import tensorflow as tf
    import torch
    import transformers

    from hubexport.model_source import build_encoder
    from hubexport.savedmodel.encoder_export import export_encoder

    torch.set_num_threads(args.torch_threads)
    work = pathlib.Path(tempfile.mkdtemp(prefix="bench_encoder_"))
    parameters = save_random_roberta(work / "hf", "base")
    source = build_encoder(None, None, checkpoint=str(work / "hf"))
    export_encoder(source.take_model(), work / "export", metadata=source.metadata)
    serving = tf.saved_model.load(str(work / "export")).signatures["serving_default"]
    bfloat16_serving = None
    if args.bfloat16:
        source = build_encoder(None, None, dtype="mixed_bfloat16", checkpoint=str(work / "hf"))
        export_encoder(source.take_model(), work / "export_bfloat16", metadata=source.metadata)
        bfloat16_serving = tf.saved_model.load(str(work / "export_bfloat16")).signatures["serving_default"]
    del source
    hf_model = transformers.RobertaModel.from_pretrained(str(work / "hf")).eval()

    rows = []
    for batch, length in TABLE_SHAPES:
        rows.append(measure_shape(serving, hf_model, batch, length, args, bfloat16_serving))
        print_rows("", rows[-1:])
    curve = []
    if not args.no_curve:
        for length in CURVE_LENGTHS:
            curve.append(measure_shape(serving, hf_model, args.curve_batch, length, args, bfloat16_serving))
            print_rows("", curve[-1:])

    settings = (
        f"roberta-base ({parameters:,} parameters, random weights), fp32, TF intra_op={args.intra_op} "
        f"inter_op={args.inter_op}, torch threads={args.torch_threads} ({hf_model.config._attn_implementation} "
        f"attention), median of {args.rounds} interleaved rounds"
    )
    print_rows(f"encoder throughput: {settings}", rows)
    if curve:
        print_rows(f"sequence-length curve at batch {args.curve_batch}", curve)
    timing.write_json(
        RESULTS / "encoder.json",
        {
            "settings": settings,
            "parameters": parameters,
            "rounds": args.rounds,
            "intra_op": args.intra_op,
            "inter_op": args.inter_op,
            "torch_threads": args.torch_threads,
            "max_load": args.max_load,
            "cpu_count": os.cpu_count(),
            "tensorflow": tf.__version__,
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "table": rows,
            "curve": curve,
        },
    )
    table = markdown_table(rows, f"Encoder, {settings}:")
    if curve:
        table += "\n" + markdown_table(curve, f"Sequence-length curve at batch {args.curve_batch}:")
    (RESULTS / "encoder_table.md").write_text(table)


if __name__ == "__main__":
    main()
