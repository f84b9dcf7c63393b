"""Benchmark: in-graph byte-level BPE (through a loaded SavedModel) vs RobertaTokenizerFast.

Run from the repository root: `python -m bench.tokenize_byte_level_bpe`.

The vocabulary is trained here exactly as the test fixture does (50,265 tokens, as roberta's, on
the docstrings of the stdlib, tensorflow, torch, numpy and scipy, licenses and CJK samples). The text is different: docstring lines of the installed `transformers` package,
unique, in batches of 1024, and every call of every candidate gets a batch it has not seen
before in this process (candidates walk the same batches in the same order, in interleaved
rounds). Both sides get 2 threads. Prints lines/s, the ratio to Hugging Face and the id parity
on every benchmarked line, and writes bench/results/tokenize_byte_level_bpe.json. The tokenizer is
built as an export builds it (`load_tokenizer`, with its special tokens); the plain lines hold no
special token, and the same lines with `<mask>` in the middle measure the added-token path. The
tokenizer alone (without the added-token check in front, as before issue 13) runs on the same
plain batches: its ratio to the full tokenizer is the cost of that check, measured in one run.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ["RAYON_NUM_THREADS"] = "2"

import ast
import pathlib
import tempfile

import tensorflow as tf
import transformers
from transformers import RobertaTokenizerFast

from bench import timing
from bench.masked_lines import with_token
from bench.saved_tokenizer import save_and_load, start_benchmark
from hubexport.preprocess.tokenizer_files import load_tokenizer
from tests.fixtures.byte_level_bpe import train_roberta_tokenizer
from tests.support import corpus

BATCH = 1024
SPECIAL_STRINGS = ("<s>", "</s>", "<pad>", "<unk>", "<mask>")
DOCUMENTED_NODES = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
RESULTS = pathlib.Path(__file__).parent / "results" / "tokenize_byte_level_bpe.json"


def package_docstring_lines(package_dir: pathlib.Path) -> list[str]:
    """Unique non-blank docstring lines of a package's modules: real text the vocabulary's
    training text (the standard library's docstrings) does not hold as such."""
    lines: dict[str, None] = {}
    for path in sorted(package_dir.rglob("*.py")):
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, DOCUMENTED_NODES):
                doc = ast.get_docstring(node, clean=False) or ""
                lines.update(dict.fromkeys(line for line in doc.splitlines() if line.strip()))
    # Literal special-token strings are out of scope (HF splits them out as control tokens).
    return [line for line in lines if not any(token in line for token in SPECIAL_STRINGS)]


def main() -> None:
    args = start_benchmark(__doc__.splitlines()[0])

    work = pathlib.Path(tempfile.mkdtemp(prefix="bench_bpe_"))
    tokenizer_dir = train_roberta_tokenizer(corpus.realistic_training_text(work / "train.txt"), work)
    hf = RobertaTokenizerFast.from_pretrained(str(tokenizer_dir))
    tokenizer = load_tokenizer(tokenizer_dir)
    loaded = save_and_load(tokenizer, work / "saved", with_offsets=True)
    alone = save_and_load(tokenizer.tokenizer, work / "saved_alone")

    lines = package_docstring_lines(pathlib.Path(transformers.__file__).parent)
    needed = (args.rounds + 1) * BATCH
    if len(lines) < needed:
        raise SystemExit(f"{len(lines)} unseen lines, {needed} needed for {args.rounds} rounds")
    batches = [lines[i : i + BATCH] for i in range(0, needed, BATCH)]
    masked = [with_token(batch, "<mask>") for batch in batches]

    outputs: dict[str, list] = {"ours": [], "hf": [], "ours_masked": [], "hf_masked": []}
    candidates = {
        "ours tokenize (SavedModel)": timing.fresh_batches(
            batches, lambda b: outputs["ours"].append(loaded.tokenize(tf.constant(b)))
        ),
        "ours tokenize, tokenizer alone": timing.fresh_batches(batches, lambda b: alone.tokenize(tf.constant(b))),
        "HF RobertaTokenizerFast": timing.fresh_batches(
            batches,
            lambda b: outputs["hf"].append(hf(b, add_special_tokens=False, return_attention_mask=False)["input_ids"]),
        ),
        "HF backend encode_batch (ids only)": timing.fresh_batches(
            batches,
            lambda b: [e.ids for e in hf.backend_tokenizer.encode_batch(b, add_special_tokens=False)],
        ),
        "ours tokenize_with_offsets (SavedModel)": timing.fresh_batches(
            batches, lambda b: loaded.tokenize_with_offsets(tf.constant(b))
        ),
        "HF RobertaTokenizerFast + offsets": timing.fresh_batches(
            batches,
            lambda b: hf(b, add_special_tokens=False, return_attention_mask=False, return_offsets_mapping=True),
        ),
        "ours tokenize, <mask> in every line": timing.fresh_batches(
            masked, lambda b: outputs["ours_masked"].append(loaded.tokenize(tf.constant(b)))
        ),
        "HF RobertaTokenizerFast, <mask> in every line": timing.fresh_batches(
            masked,
            lambda b: outputs["hf_masked"].append(
                hf(b, add_special_tokens=False, return_attention_mask=False)["input_ids"]
            ),
        ),
    }
    seconds = timing.interleaved_medians(candidates, rounds=args.rounds, warmup=1)

    ours_ids = [row for ragged in outputs["ours"] for row in ragged.to_list()]
    hf_ids = [row for batch in outputs["hf"] for row in batch]
    same = sum(a == b for a, b in zip(ours_ids, hf_ids))
    parity = same / len(hf_ids)
    hf_seconds = seconds["HF RobertaTokenizerFast"]
    hf_offsets_seconds = seconds["HF RobertaTokenizerFast + offsets"]
    hf_masked_seconds = seconds["HF RobertaTokenizerFast, <mask> in every line"]
    masked_ids = [row for ragged in outputs["ours_masked"] for row in ragged.to_list()]
    masked_same = sum(a == b for a, b in zip(masked_ids, [row for batch in outputs["hf_masked"] for row in batch]))
    rows = []
    for name, s in seconds.items():
        reference = hf_offsets_seconds if "offsets" in name else hf_masked_seconds if "<mask>" in name else hf_seconds
        rows.append((name, f"{BATCH / s:,.0f}", f"{s * 1000:.1f}", f"{reference / s:.2f}x"))
    timing.print_table(
        f"byte-level BPE, {len(hf)} tokens, batches of {BATCH} unseen lines, median of {args.rounds} rounds, 2 threads",
        ("candidate", "lines/s", "ms/batch", "vs HF"),
        rows,
    )
    print(f"id parity on {len(hf_ids)} benchmarked lines: {same}/{len(hf_ids)} = {parity:.2%}")
    print(f"id parity on {len(masked_ids)} lines with <mask>: {masked_same}/{len(masked_ids)}")
    cost = seconds["ours tokenize (SavedModel)"] / seconds["ours tokenize, tokenizer alone"] - 1
    print(f"added-token check on plain text: {cost:+.1%} time vs the tokenizer alone")
    timing.write_json(
        RESULTS,
        {
            "batch_size": BATCH,
            "rounds": args.rounds,
            "threads": 2,
            "vocab_size": len(hf),
            "text": "unique docstring lines of the installed transformers package",
            "seconds_per_batch": seconds,
            "lines_per_second": {name: BATCH / s for name, s in seconds.items()},
            "ratio_tokenize_vs_hf": hf_seconds / seconds["ours tokenize (SavedModel)"],
            "ratio_tokenize_vs_hf_backend": seconds["HF backend encode_batch (ids only)"]
            / seconds["ours tokenize (SavedModel)"],
            "ratio_offsets_vs_hf": hf_offsets_seconds / seconds["ours tokenize_with_offsets (SavedModel)"],
            "check_cost": seconds["ours tokenize (SavedModel)"] / seconds["ours tokenize, tokenizer alone"] - 1,
            "ratio_masked_vs_hf": hf_masked_seconds / seconds["ours tokenize, <mask> in every line"],
            "masked_parity_identical": masked_same,
            "parity_lines": len(hf_ids),
            "parity_identical": same,
        },
    )


if __name__ == "__main__":
    main()
