"""Compare bench reports from several devices and variants: one table, one plot."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgeft_runtime.bench.report import MEASURED_HERE, read_report

from ..errors import EdgeftError


@dataclass
class Row:
    """One engine of one report: a device x variant cell of the comparison."""

    report: str
    device: str
    variant: str
    model: str
    result: dict[str, Any]


def load_report(path: str | Path) -> dict[str, Any]:
    """Read a bench report; refuse other formats and other major schema versions."""
    return read_report(path, EdgeftError)


def model_identity(report: dict[str, Any]) -> str:
    """A short id of the model measured: the first 8 hex digits of its fp32 (else any) graph."""
    shas = report["bundle"].get("model_sha256") or {}
    sha = shas.get("fp32") or next(iter(sorted(shas.values())), None) or "unknown"
    return f"{report['bundle'].get('source_run') or '?'}@{str(sha)[:8]}"


def collect_rows(paths: list[str | Path]) -> tuple[list[Row], list[str]]:
    """Rows of every engine in every report, plus notes (e.g. reports of different models)."""
    rows, notes = [], []
    models: dict[str, list[str]] = {}
    for path in paths:
        report = load_report(path)
        device = report["device"].get("name") or Path(path).stem
        threads = report["device"].get("threads")
        label = f"{device} ({threads}t)" if threads else device
        model = model_identity(report)
        models.setdefault(model, []).append(str(path))
        for variant, result in report["results"].items():
            rows.append(Row(str(path), label, variant, model, result))
            acc = result.get("accuracy") or {}
            if acc.get("passed") is False:
                notes.append(f"FAILED on {label}: {variant} is outside the accuracy limits on this device ({'; '.join(acc.get('failures') or [])})")
        if report.get("results") and not any((r.get("accuracy") or {}).get("source") == MEASURED_HERE for r in report["results"].values()):
            notes.append(f"{label} ({path}): accuracy not measured on the device, copied from the bundle's parity check (no reference set, or a report before schema 1.1)")
    if len(models) > 1:
        listed = "; ".join(f"{m}: {', '.join(p)}" for m, p in models.items())
        notes.append(f"these reports measure DIFFERENT models, so rows are not like for like ({listed})")
    return rows, notes


def _cell(value: Any, fmt: str) -> str:
    return format(value, fmt) if isinstance(value, (int, float)) else "-"


def format_comparison(rows: list[Row], notes: list[str], lengths: tuple[str, ...] = ("16", "64", "128")) -> str:
    """A plain-text table: one line per device x variant."""
    multiple_models = len({r.model for r in rows}) > 1
    head = [
        "device", "variant", *[f"p50@{n}" for n in lengths], *[f"p90@{n}" for n in lengths], "texts/s", "RSS MB", "size MB",
        "accuracy", "agreement %", "check",
    ]
    if multiple_models:
        head.append("model")
    table = [head]
    for r in rows:
        lat = r.result.get("latency_ms", {})
        accuracy = r.result.get("accuracy") or {}
        acc = accuracy.get("value")
        agreement = accuracy.get("label_agreement")
        verdict = {True: "ok", False: "FAILED"}.get(accuracy.get("passed"), "-")
        line = [
            r.device,
            r.variant,
            *[_cell(lat.get(n, {}).get("p50"), ".2f") for n in lengths],
            *[_cell(lat.get(n, {}).get("p90"), ".2f") for n in lengths],
            _cell(r.result.get("throughput", {}).get("texts_per_s"), ".1f"),
            _cell(r.result.get("peak_rss_mb"), ".0f"),
            _cell(r.result.get("size_mb"), ".1f"),
            _cell(acc, ".2f"),
            _cell(100 * agreement if isinstance(agreement, (int, float)) else None, ".2f"),
            verdict,
        ]
        if multiple_models:
            line.append(r.model)
        table.append(line)
    widths = [max(len(row[i]) for row in table) for i in range(len(head))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in table]
    lines += [f"note: {n}" for n in notes]
    return "\n".join(lines)


def plot_comparison(rows: list[Row], path: str | Path) -> list[str]:
    """Latency vs sequence length per device/variant, and accuracy vs latency; returns series labels."""
    try:
        import matplotlib
    except ImportError:
        raise EdgeftError("--plot needs matplotlib: pip install 'edgeft[plot]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_lat, ax_acc) = plt.subplots(1, 2, figsize=(12, 4.8))
    labels = []
    for r in rows:
        label = f"{r.device} / {r.variant}"
        lat = r.result.get("latency_ms", {})
        lengths = sorted(lat, key=int)
        if not lengths:
            continue
        ax_lat.plot([int(n) for n in lengths], [lat[n]["p50"] for n in lengths], marker="o", label=label)
        labels.append(label)
        acc = (r.result.get("accuracy") or {}).get("value")
        longest = lengths[-1]
        if acc is not None:
            ax_acc.scatter(lat[longest]["p50"], acc)
            ax_acc.annotate(label, (lat[longest]["p50"], acc), fontsize=7, xytext=(4, 4), textcoords="offset points")
    ax_lat.set(xlabel="sequence length (tokens)", ylabel="latency p50 (ms, batch 1)", title="Latency by sequence length")
    ax_lat.grid(alpha=0.3)
    ax_lat.legend(fontsize=7)
    metric = next(((r.result.get("accuracy") or {}).get("metric") for r in rows if r.result.get("accuracy")), "accuracy")
    ax_acc.set(xlabel="latency p50 at the longest length (ms)", ylabel=f"{metric} (points)", title="Accuracy vs latency")
    ax_acc.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return labels
