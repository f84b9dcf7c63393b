"""PNG charts of the latest benchmark results (needs matplotlib: `pip install -e ".[bench]"`).

Run from the repository root after the benchmarks: `python -m bench.charts`. Reads
bench/results/encoder.json (and end_to_end.json if present) and writes encoder_throughput.png,
encoder_seq_curve.png and end_to_end.png beside them.
"""

from __future__ import annotations

import json
import pathlib

RESULTS = pathlib.Path(__file__).parent / "results"
COLORS = {"hubexport": "#1f77b4", "HF PyTorch": "#ff7f0e"}


def bar_chart(labels: list[str], series: dict[str, list[float]], ylabel: str, title: str, path: pathlib.Path) -> None:
    """Grouped bars, one group per label, one bar per series."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    width = 0.8 / len(series)
    figure, axes = plt.subplots(figsize=(7, 4))
    for offset, (name, values) in enumerate(series.items()):
        positions = [i + (offset - (len(series) - 1) / 2) * width for i in range(len(labels))]
        bars = axes.bar(positions, values, width, label=name, color=COLORS.get(name))
        axes.bar_label(bars, fmt="%.1f", fontsize=8)
    axes.set_xticks(range(len(labels)), labels, fontsize=8)
    axes.set_ylabel(ylabel)
    axes.set_title(title, fontsize=10)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def curve_chart(rows: list[dict], title: str, path: pathlib.Path) -> None:
    """Sequences/s of both sides against sequence length."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lengths = [row["seq_length"] for row in rows]
    figure, axes = plt.subplots(figsize=(7, 4))
    axes.plot(lengths, [row["hubexport_seq_per_s"] for row in rows], "o-", label="hubexport", color=COLORS["hubexport"])
    axes.plot(lengths, [row["hf_seq_per_s"] for row in rows], "s-", label="HF PyTorch", color=COLORS["HF PyTorch"])
    axes.set_xlabel("sequence length")
    axes.set_ylabel("sequences / s")
    axes.set_yscale("log")
    axes.set_title(title, fontsize=10)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def main() -> None:
    encoder = json.loads((RESULTS / "encoder.json").read_text())
    table = encoder["table"]
    bar_chart(
        [f"{r['batch']}x{r['seq_length']}" for r in table],
        {"hubexport": [r["hubexport_seq_per_s"] for r in table], "HF PyTorch": [r["hf_seq_per_s"] for r in table]},
        "sequences / s",
        "roberta-base encoder, fp32, 2 threads",
        RESULTS / "encoder_throughput.png",
    )
    if encoder["curve"]:
        curve_chart(
            encoder["curve"],
            f"roberta-base encoder at batch {encoder['curve'][0]['batch']}",
            RESULTS / "encoder_seq_curve.png",
        )
    end_to_end_file = RESULTS / "end_to_end.json"
    if end_to_end_file.is_file():
        end_to_end = json.loads(end_to_end_file.read_text())
        rates = end_to_end["strings_per_second"]
        bar_chart(
            [name.removeprefix("hubexport ").replace(" (", "\n(").replace(", ", ",\n") for name in rates],
            {"strings / s": list(rates.values())},
            "strings / s",
            "text -> embedding, roberta-base, 2 threads",
            RESULTS / "end_to_end.png",
        )


if __name__ == "__main__":
    main()
