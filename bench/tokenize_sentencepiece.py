"""Benchmark: in-graph SentencePiece tokenizers (ALBERT, XLM-R) through a loaded SavedModel vs the
HF fast tokenizers built from the same files.

Run from the repository root: `python -m bench.tokenize_sentencepiece`.

The models are trained here exactly as the test fixtures do (ALBERT: 30k unigram, XLM-R: 30k BPE,
on the same ~20 MB of docstrings, licenses and CJK samples), plus an XLM-R-layout 30k unigram
model (the real xlm-roberta model is unigram). The text is different: unique docstring lines of the
installed `transformers` package, in batches of 1024, and every call of every candidate gets a
batch it has not seen before in this process (candidates walk the same batches in the same order,
in interleaved rounds). Both sides get 2 threads (TF intra/inter-op threads, RAYON_NUM_THREADS).
Prints lines/s and the ratio to HF fast, the machine's load average while measuring (other
processes slow both sides, HF's threads most), and the id parity of ours and of HF fast with the
slow (sentencepiece-backed) reference on every benchmarked line; writes
bench/results/tokenize_sentencepiece.json. The tokenizers are built as an export builds them
(`load_tokenizer`, with their special tokens); the plain lines hold no special token, and the same
lines with the mask token in the middle measure the added-token path. The tokenizer alone (without
the added-token check in front, as before issue 13) runs on the same plain batches: its ratio to
the full tokenizer is the cost of that check, measured in one run.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ["RAYON_NUM_THREADS"] = "2"

import functools
import pathlib
import tempfile

import tensorflow as tf
import transformers
from transformers import (
    AlbertTokenizer,
    AlbertTokenizerFast,
    XLMRobertaTokenizer,
    XLMRobertaTokenizerFast,
)

from bench import timing
from bench.machine_load import load_average
from bench.masked_lines import with_token
from bench.saved_tokenizer import save_and_load, start_benchmark
from bench.tokenize_byte_level_bpe import package_docstring_lines
from hubexport.preprocess.tokenizer_files import load_tokenizer
from tests.fixtures.sentencepiece import train_albert_tokenizer, train_xlm_roberta_tokenizer
from tests.support import corpus

BATCH = 1024
RESULTS = pathlib.Path(__file__).parent / "results" / "tokenize_sentencepiece.json"
FAMILIES = {
    "albert": (
        train_albert_tokenizer,
        AlbertTokenizer,
        AlbertTokenizerFast,
    ),
    "xlm_roberta": (
        train_xlm_roberta_tokenizer,
        XLMRobertaTokenizer,
        XLMRobertaTokenizerFast,
    ),
    # The real xlm-roberta sentencepiece.bpe.model is a unigram model despite its name.
    "xlm_roberta_unigram": (
        functools.partial(train_xlm_roberta_tokenizer, model_type="unigram"),
        XLMRobertaTokenizer,
        XLMRobertaTokenizerFast,
    ),
}


def run_family(name: str, work: pathlib.Path, text_file: pathlib.Path, lines: list[str], rounds: int) -> dict:
    train, slow_class, fast_class = FAMILIES[name]
    tokenizer_dir = train(text_file, work / name)
    slow = slow_class.from_pretrained(str(tokenizer_dir))
    fast = fast_class.from_pretrained(str(tokenizer_dir))
    tokenizer = load_tokenizer(tokenizer_dir)
    loaded = save_and_load(tokenizer, work / f"{name}_saved")
    alone = save_and_load(tokenizer.tokenizer, work / f"{name}_saved_alone")

    # Literal special-token strings are out of scope (HF splits them out as control tokens, also
    # those that appear only once HF lowercased the text, like "<UNK>" for ALBERT).
    lowercase = getattr(slow, "do_lower_case", False)
    usable = [
        line
        for line in lines
        if not any(t in line or (lowercase and t in line.lower()) for t in slow.all_special_tokens)
    ]
    needed = (rounds + 1) * BATCH
    if len(usable) < needed:
        raise SystemExit(f"only {len(usable)} unseen lines, {needed} needed for {rounds} rounds")
    batches = [usable[i : i + BATCH] for i in range(0, needed, BATCH)]
    masked = [with_token(batch, slow.mask_token) for batch in batches]

    outputs: dict[str, list] = {"ours": [], "fast": [], "ours_masked": []}
    ours_name, fast_name = "ours tokenize (SavedModel)", f"HF {fast_class.__name__}"
    ours_masked, fast_masked = f"ours, {slow.mask_token} in every line", f"HF fast, {slow.mask_token} in every line"
    candidates = {
        ours_name: timing.fresh_batches(batches, lambda b: outputs["ours"].append(loaded.tokenize(tf.constant(b)))),
        "ours, tokenizer alone": timing.fresh_batches(batches, lambda b: alone.tokenize(tf.constant(b))),
        fast_name: timing.fresh_batches(
            batches,
            lambda b: outputs["fast"].append(
                fast(b, add_special_tokens=False, return_attention_mask=False)["input_ids"]
            ),
        ),
        ours_masked: timing.fresh_batches(
            masked, lambda b: outputs["ours_masked"].append(loaded.tokenize(tf.constant(b)))
        ),
        fast_masked: timing.fresh_batches(
            masked, lambda b: fast(b, add_special_tokens=False, return_attention_mask=False)["input_ids"]
        ),
    }
    load_before = load_average()
    seconds = timing.interleaved_medians(candidates, rounds=rounds, warmup=1)
    load = max(load_before, load_average())

    benchmarked = [line for batch in batches[: len(outputs["ours"])] for line in batch]
    reference = [slow.encode(line, add_special_tokens=False) for line in benchmarked]
    ours_ids = [row for ragged in outputs["ours"] for row in ragged.to_list()]
    fast_ids = [row for batch in outputs["fast"] for row in batch]
    ratio = seconds[fast_name] / seconds[ours_name]
    timing.print_table(
        f"{name}: {len(slow)} pieces, batches of {BATCH} unseen lines, "
        f"median of {rounds} rounds, 2 threads, load average {load:.1f} (this run included)",
        ("candidate", "lines/s", "ms/batch", "vs HF fast"),
        [
            (
                n,
                f"{BATCH / s:,.0f}",
                f"{s * 1000:.1f}",
                f"{seconds[fast_masked if 'every' in n else fast_name] / s:.2f}x",
            )
            for n, s in seconds.items()
        ],
    )
    benchmarked_masked = [line for batch in masked[: len(outputs["ours_masked"])] for line in batch]
    masked_reference = [slow.encode(line, add_special_tokens=False) for line in benchmarked_masked]
    masked_ids = [row for ragged in outputs["ours_masked"] for row in ragged.to_list()]
    masked_same = sum(a == b for a, b in zip(masked_ids, masked_reference))
    ours_same = sum(a == b for a, b in zip(ours_ids, reference))
    fast_same = sum(a == b for a, b in zip(fast_ids, reference))
    print(
        f"ids identical to {slow_class.__name__}: ours {ours_same}/{len(reference)}, "
        f"{fast_class.__name__} {fast_same}/{len(reference)}; lines with {slow.mask_token}: ours "
        f"{masked_same}/{len(masked_reference)}; added-token check on plain text: "
        f"{seconds[ours_name] / seconds['ours, tokenizer alone'] - 1:+.1%} time vs the tokenizer alone\n"
    )
    return {
        "vocab_size": len(slow),
        "seconds_per_batch": seconds,
        "lines_per_second": {n: BATCH / s for n, s in seconds.items()},
        "ratio_tokenize_vs_hf_fast": ratio,
        "ratio_masked_vs_hf_fast": seconds[fast_masked] / seconds[ours_masked],
        "check_cost": seconds[ours_name] / seconds["ours, tokenizer alone"] - 1,
        "ours_masked_identical_to_slow": masked_same,
        "parity_lines": len(reference),
        "ours_identical_to_slow": ours_same,
        "hf_fast_identical_to_slow": fast_same,
        "load_average": load,
    }


def main() -> None:
    args = start_benchmark(__doc__.splitlines()[0])

    work = pathlib.Path(tempfile.mkdtemp(prefix="bench_sentencepiece_"))
    text_file = corpus.realistic_training_text(work / "train.txt")
    lines = package_docstring_lines(pathlib.Path(transformers.__file__).parent)
    results = {name: run_family(name, work, text_file, lines, args.rounds) for name in FAMILIES}
    timing.write_json(
        RESULTS,
        {
            "batch_size": BATCH,
            "rounds": args.rounds,
            "threads": 2,
            "text": "unique docstring lines of the installed transformers package",
            "families": results,
        },
    )


if __name__ == "__main__":
    main()
