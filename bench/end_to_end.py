"""Benchmark: text -> embedding with our SavedModels vs Hugging Face's tokenizer + PyTorch model.

Run from the repository root: `python -m bench.end_to_end` (about 10 minutes on 2 idle cores).

Model: a randomly initialized roberta-base saved with `save_pretrained` (see bench/hf_roberta.py).
Tokenizer: a 50,265-token byte-level BPE vocabulary trained here as the test fixture does. Text:
the real lines of tests/support/corpus.py (license texts, docstrings, CJK samples, hard cases)
without literal special-token strings (HF splits those out; out of scope), in batches of
`--batch`; every call of every candidate gets a batch it has not seen before in this process, and
the candidates walk the same batches in interleaved rounds. Output: the embedding (mean of the
last hidden states over the attention mask, special tokens included, as the end-to-end model
defines it), checked against HF on the first batch. Both sides get 2 threads.

Candidates, each against HF with `padding="longest"` (truncated to 128), what HF users run:
- the end-to-end SavedModel (`serving_default`: packs to 128, runs the encoder on length buckets);
- our preprocessor SavedModel (`tokenize`, then `bert_pack_inputs` with seq_length = the longest
  row of the batch) + encoder SavedModel, the two separate SavedModels chained by hand;
- with `--bfloat16`, the end-to-end SavedModel exported with `--dtype=mixed_bfloat16` (bfloat16
  matmuls, AMX on this CPU): not held to the float32 tolerance; its agreement with HF's float32
  embeddings is reported as the largest difference and the smallest cosine similarity.
Writes bench/results/end_to_end.json and bench/results/end_to_end_table.md.
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
from bench.hf_roberta import save_random_roberta

RESULTS = pathlib.Path(__file__).parent / "results"
SEQ_LENGTH = 128
SPECIAL_STRINGS = ("<s>", "</s>", "<pad>", "<unk>", "<mask>")
PARITY_TOLERANCE = 1e-4
END_TO_END = "hubexport end-to-end SavedModel (length buckets)"
SEPARATE = "hubexport preprocessor + encoder (pad to longest)"
BFLOAT16 = "hubexport end-to-end SavedModel, mixed_bfloat16"
REFERENCE = "HF tokenizer + model (pad to longest)"


def hf_embedder(tokenizer, model) -> Callable[[list[str]], np.ndarray]:
    """HF's pipeline: tokenize (padded to the longest, truncated to 128), run the model, mean over the mask."""
    import torch

    def embed(texts: list[str]) -> np.ndarray:
        encoded = tokenizer(texts, padding="longest", truncation=True, max_length=SEQ_LENGTH, return_tensors="pt")
        with torch.inference_mode():
            hidden = model(**encoded).last_hidden_state
            mask = encoded["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            return ((hidden * mask).sum(1) / mask.sum(1)).numpy()

    return embed


def longest_embedder(preprocessor, encoder) -> Callable[[list[str]], np.ndarray]:
    """Our SavedModels, packed to the longest row of the batch (at most 128, 2 special tokens)."""
    import tensorflow as tf

    from hubexport.savedmodel.sentence_pooling import masked_mean

    def embed(texts: list[str]) -> np.ndarray:
        tokens = preprocessor.tokenize(tf.constant(texts))
        length = tf.minimum(tf.reduce_max(tokens.row_lengths()) + 2, SEQ_LENGTH)
        packed = preprocessor.bert_pack_inputs([tokens], seq_length=tf.cast(length, tf.int32))
        hidden = encoder.signatures["serving_default"](**packed)["sequence_output"]
        return masked_mean(hidden, packed["input_mask"]).numpy()

    return embed


def agreement(ours: np.ndarray, reference: np.ndarray) -> dict[str, float]:
    """Largest absolute difference and smallest cosine similarity between two embedding batches."""
    cosine = np.sum(ours * reference, axis=1) / (np.linalg.norm(ours, axis=1) * np.linalg.norm(reference, axis=1))
    return {"max_abs_difference": float(np.max(np.abs(ours - reference))), "min_cosine": float(np.min(cosine))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--max_load", type=float, default=2.5, help="re-measure above this 1-minute load average")
    parser.add_argument("--retries", type=int, default=1)
    parser.add_argument("--bfloat16", action="store_true", help="also time a --dtype=mixed_bfloat16 end-to-end export")
    args = parser.parse_args()

    from hubexport.runtime_options import ThreadOptions, apply_thread_options

    apply_thread_options(ThreadOptions(intra_op=2, inter_op=1))
    import tensorflow as tf
    import tensorflow_text  # noqa: F401  (registers the tf.text ops the loaded preprocessor uses)
    import torch
    import transformers

    from hubexport.model_source import build_encoder
    from hubexport.preprocess.tokenizer_files import load_tokenizer
    from hubexport.savedmodel.encoder_export import export_encoder
    from hubexport.savedmodel.preprocessor_export import export_preprocessor
    from hubexport.serving.end_to_end_export import export_end_to_end
    from tests.fixtures.byte_level_bpe import train_roberta_tokenizer
    from tests.support import corpus

    torch.set_num_threads(2)
    work = pathlib.Path(tempfile.mkdtemp(prefix="bench_end_to_end_"))
    tokenizer_dir = train_roberta_tokenizer(corpus.realistic_training_text(work / "train.txt"), work)
    save_random_roberta(work / "hf", "base")
    source = build_encoder(None, None, checkpoint=str(work / "hf"))
    tokenizer = load_tokenizer(tokenizer_dir)
    end_to_end = export_end_to_end(source.model, tokenizer, work / "embedder", default_seq_length=SEQ_LENGTH)
    export_preprocessor(tokenizer, work / "preprocessor", default_seq_length=SEQ_LENGTH)
    export_encoder(source.take_model(), work / "encoder")
    serving = tf.saved_model.load(str(end_to_end.path)).signatures["serving_default"]
    if args.bfloat16:
        source = build_encoder(None, None, dtype="mixed_bfloat16", checkpoint=str(work / "hf"))
        bfloat16_path = export_end_to_end(
            source.take_model(), tokenizer, work / "embedder_bfloat16", default_seq_length=SEQ_LENGTH
        ).path
        bfloat16_serving = tf.saved_model.load(str(bfloat16_path)).signatures["serving_default"]
    del source, tokenizer
    preprocessor = tf.saved_model.load(str(work / "preprocessor"))
    encoder = tf.saved_model.load(str(work / "encoder"))
    hf_tokenizer = transformers.AutoTokenizer.from_pretrained(str(tokenizer_dir))
    hf_model = transformers.RobertaModel.from_pretrained(str(work / "hf")).eval()

    lines = [line for line in corpus.parity_lines() if not any(s in line for s in SPECIAL_STRINGS)]
    calls_per_candidate = (args.retries + 1) * (args.rounds + 2) + 1
    needed = calls_per_candidate * args.batch
    if len(lines) < needed:
        raise SystemExit(f"only {len(lines)} lines, {needed} needed for {args.rounds} rounds")
    batches = [lines[i : i + args.batch] for i in range(0, needed, args.batch)]

    embedders = {
        END_TO_END: lambda texts: serving(text=tf.constant(texts))["embedding"].numpy(),
        SEPARATE: longest_embedder(preprocessor, encoder),
        REFERENCE: hf_embedder(hf_tokenizer, hf_model),
    }
    if args.bfloat16:
        embedders[BFLOAT16] = lambda texts: bfloat16_serving(text=tf.constant(texts))["embedding"].numpy()
    ours = [name for name in embedders if name != REFERENCE]
    reference = embedders[REFERENCE](batches[0])
    agreements = {name: agreement(embedders[name](batches[0]), reference) for name in ours}
    for name in (END_TO_END, SEPARATE):
        if not agreements[name]["max_abs_difference"] <= PARITY_TOLERANCE:
            raise SystemExit(
                f"{name} differs from HF by {agreements[name]['max_abs_difference']}: not the same pipeline"
            )
    runners = {name: timing.fresh_batches(batches[1:], embed) for name, embed in embedders.items()}
    seconds, load, runs = machine_load.measure_quietly(
        lambda: timing.interleaved_medians(runners, rounds=args.rounds, warmup=2), args.max_load, args.retries
    )

    strings_per_second = {name: args.batch / s for name, s in seconds.items()}
    ratios = {name: strings_per_second[name] / strings_per_second[REFERENCE] for name in ours}
    tokens = [len(ids) for ids in hf_tokenizer(lines[:needed], truncation=True, max_length=SEQ_LENGTH)["input_ids"]]
    settings = (
        f"roberta-base (random weights), batches of {args.batch} unseen corpus lines (mean {np.mean(tokens):.1f} "
        f"tokens with specials), median of {args.rounds} interleaved rounds, 2 threads each, "
        f"load average {load:.1f}"
    )
    rows = [
        (
            name,
            f"{strings_per_second[name]:.1f}",
            f"{ratios[name]:.2f}x" if name in ratios else "",
            f"max abs diff {agreements[name]['max_abs_difference']:.1e}, min cosine {agreements[name]['min_cosine']:.6f}"
            if name in agreements
            else "",
        )
        for name in embedders
    ]
    timing.print_table(f"text -> embedding: {settings}", ("candidate", "strings/s", "vs HF", "embedding vs HF"), rows)
    timing.write_json(
        RESULTS / "end_to_end.json",
        {
            "settings": settings,
            "batch": args.batch,
            "rounds": args.rounds,
            "load_average": load,
            "runs": runs,
            "mean_tokens": float(np.mean(tokens)),
            "seconds_per_batch": seconds,
            "strings_per_second": strings_per_second,
            "ratios": ratios,
            "agreement_with_hf": agreements,
        },
    )
    table = [
        f"Text to embedding, {settings}:",
        "",
        "| pipeline | strings/s | vs HF | embedding vs HF |",
        "|---|---:|---:|---|",
    ]
    table += [f"| {' | '.join(row)} |" for row in rows]
    (RESULTS / "end_to_end_table.md").write_text("\n".join(table) + "\n")


if __name__ == "__main__":
    main()
