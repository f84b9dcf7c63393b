"""Benchmark: exporting roberta-base and roberta-large from a Hugging Face directory.

Run from the repository root: `python -m bench.export` (about 5 minutes on 2 idle cores).

For each size a randomly initialized `RobertaModel` is saved with `save_pretrained` (safetensors,
see bench/hf_roberta.py) beside a 50,265-token byte-level BPE tokenizer (trained here as the test
fixture does), and exported to encoder + preprocessor in a fresh process exactly as a user would:
`hubexport --export_type=both --checkpoint=HF_DIR --export_dir=OUT`. Measured: the wall time
of that process (Python and TensorFlow start-up included), its peak RSS (the kernel's maxrss of
the child, so no peak is missed), the peak RSS of a process that only imports what the export
imports and runs one op (the Python+TensorFlow baseline), and the bytes written. Reported
against the fp32 weight bytes (4 x parameters). Writes bench/results/export.json and
bench/results/export_table.md.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import shutil
import subprocess
import sys
import tempfile

from bench import machine_load, timing
from bench.hf_roberta import SIZES, save_random_roberta
from tests.fixtures.byte_level_bpe import train_roberta_tokenizer
from tests.support import corpus

RESULTS = pathlib.Path(__file__).parent / "results"
BASELINE_CODE = (
    "import tensorflow as tf, keras; import hubexport.export_main, hubexport.model_source, "
    "hubexport.savedmodel.encoder_export; tf.constant(1.0) + 1.0"
)
# Runs argv[1:] as a child and prints its wall seconds and peak RSS (bytes) as JSON.
MEASURE_CODE = """
import json, resource, subprocess, sys, time
start = time.perf_counter()
completed = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
seconds = time.perf_counter() - start
if completed.returncode:
    sys.exit(completed.stderr[-2000:])
print(json.dumps({"seconds": seconds, "peak_rss": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024}))
"""


def measure(command: list[str]) -> dict[str, float]:
    """Wall seconds and peak RSS bytes of `command`, run as the only child of a fresh wrapper."""
    output = subprocess.run([sys.executable, "-c", MEASURE_CODE, *command], capture_output=True, text=True)
    if output.returncode:
        raise SystemExit(f"{' '.join(command)} failed:\n{output.stderr}")
    return json.loads(output.stdout)


def directory_bytes(path: pathlib.Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def export_size(size: str, work: pathlib.Path, tokenizer_dir: pathlib.Path, baseline_rss: float) -> dict:
    """Exports one size and relates time, memory and bytes to its fp32 weights."""
    checkpoint, out = work / f"hf_{size}", work / f"export_{size}"
    parameters = save_random_roberta(checkpoint, size)
    for tokenizer_file in tokenizer_dir.iterdir():
        shutil.copy(tokenizer_file, checkpoint / tokenizer_file.name)
    weight_bytes = 4 * parameters
    before = machine_load.load_average()
    run = measure(
        [
            sys.executable,
            "-m",
            "hubexport.export_main",
            "--export_type=both",
            f"--checkpoint={checkpoint}",
            f"--export_dir={out}",
        ]
    )
    load = max(before, machine_load.load_average())
    saved_bytes = directory_bytes(out / "encoder")
    return {
        "size": size,
        "parameters": parameters,
        "weight_bytes": weight_bytes,
        "checkpoint_bytes": directory_bytes(checkpoint),
        "seconds": run["seconds"],
        "peak_rss": run["peak_rss"],
        "rss_above_baseline": run["peak_rss"] - baseline_rss,
        "rss_above_baseline_vs_weights": (run["peak_rss"] - baseline_rss) / weight_bytes,
        "saved_model_bytes": saved_bytes,
        "saved_model_vs_weights": saved_bytes / weight_bytes,
        "variables_bytes": directory_bytes(out / "encoder" / "variables"),
        "preprocessor_bytes": directory_bytes(out / "preprocessor"),
        "load_average": load,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=list(SIZES), choices=list(SIZES))
    args = parser.parse_args()
    work = pathlib.Path(tempfile.mkdtemp(prefix="bench_export_"))
    tokenizer_dir = train_roberta_tokenizer(corpus.realistic_training_text(work / "train.txt"), work / "tokenizer")
    baseline = measure([sys.executable, "-c", BASELINE_CODE])
    rows = [export_size(size, work, tokenizer_dir, baseline["peak_rss"]) for size in args.sizes]

    mib = 1 << 20
    header = (
        "size",
        "parameters",
        "wall s",
        "peak RSS MiB",
        "RSS above baseline / weights",
        "encoder SavedModel / weights",
        "load",
    )
    cells = [
        (
            r["size"],
            f"{r['parameters']:,}",
            f"{r['seconds']:.1f}",
            f"{r['peak_rss'] / mib:,.0f}",
            f"{r['rss_above_baseline_vs_weights']:.2f}x",
            f"{r['saved_model_vs_weights']:.4f}x",
            f"{r['load_average']:.1f}",
        )
        for r in rows
    ]
    title = (
        f"hubexport --export_type=both (encoder + preprocessor) from a Hugging Face directory (fresh process, TF start-up included); "
        f"Python+TensorFlow baseline RSS {baseline['peak_rss'] / mib:,.0f} MiB; weights = 4 bytes x parameters"
    )
    timing.print_table(title, header, cells)
    timing.write_json(RESULTS / "export.json", {"baseline": baseline, "exports": rows})
    table = [f"Export, {title}:", "", "| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]
    table += ["| " + " | ".join(row) + " |" for row in cells]
    (RESULTS / "export_table.md").write_text("\n".join(table) + "\n")


if __name__ == "__main__":
    main()
