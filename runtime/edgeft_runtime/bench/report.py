"""The versioned report `edgeft compare` reads (documented in the README), its ratios and its table."""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import Any, Sequence

from ..errors import BundleError
from ..versioned import JsonFormat, read_versioned
from .measure import THROUGHPUT_BATCH
from .workload import DEFAULT_LENGTHS

REPORT_FORMAT = "edgeft-bench-report"
# 1.1: the accuracy check on the device (``check``, and per result ``accuracy.source`` "measured on this device").
REPORT_SCHEMA_VERSION = "1.1"
MEASURED_HERE = "measured on this device"
FROM_BUNDLE = "bundle parity check"
REPORT_JSON_FORMAT = JsonFormat(
    name=REPORT_FORMAT,
    version=REPORT_SCHEMA_VERSION,
    what="an edgeft bench report",
    reader="edgeft",
    upgrade="upgrade edgeft to compare it, or re-run `edgeft bench` with this one",
    remake="pass reports written by `edgeft bench --out` (re-run it with this edgeft)",
    required=("device", "bundle", "results"),
)


def read_report(path: str | Path, error: type[Exception] = BundleError) -> dict[str, Any]:
    """A bench report written by ``edgeft bench --out``; ``error`` naming the file and what to do
    when it is missing, not a report, or of another major schema version."""
    path = Path(path)
    if not path.is_file():
        raise error(f"{path}: report not found")
    return read_versioned(path, REPORT_JSON_FORMAT, error)


def ratios(results: dict[str, dict], reference: str) -> dict[str, dict]:
    """Speed-ups and memory ratios of each engine against ``reference`` (same run, same device)."""
    ref = results[reference]
    out = {}
    for name, res in results.items():
        if name == reference:
            continue
        entry: dict[str, Any] = {
            "vs": reference,
            "latency_speedup_p50": {
                k: round(ref["latency_ms"][k]["p50"] / v["p50"], 3) for k, v in res["latency_ms"].items() if k in ref["latency_ms"]
            },
            "throughput_speedup": round(res["throughput"]["texts_per_s"] / ref["throughput"]["texts_per_s"], 3),
            "size_ratio": round(res["size_mb"] / ref["size_mb"], 3) if ref["size_mb"] else None,
        }
        if "peak_rss_mb" in res and "peak_rss_mb" in ref:
            entry["peak_rss_ratio"] = round(res["peak_rss_mb"] / ref["peak_rss_mb"], 3)
            entry["cold_start_speedup"] = round(ref["cold_start_s"] / res["cold_start_s"], 3)
        out[name] = entry
    return out


def settings(
    threads: int | None,
    inter_op: int | None,
    runs: int,
    duration: float | None,
    cold_passes: int,
    lengths: Sequence[int] = DEFAULT_LENGTHS,
) -> dict[str, Any]:
    return {
        "threads": threads,
        "inter_op_threads": inter_op,
        "runs": None if duration else runs,
        "duration_s": duration,
        "lengths": list(lengths),
        "batch_size_throughput": THROUGHPUT_BATCH,
        "cold_passes": cold_passes,
    }


def build_report(
    bundle: str | Path, manifest: dict, device: dict, settings: dict, results: dict, reference: str | None, checked: dict | None = None
) -> dict[str, Any]:
    """Assemble the report. Each result gets its accuracy: measured on this device on the bundle's
    reference set when ``checked`` (see ``device_check``) has it, else the figure of the bundle's
    parity check on the exporting machine (bundles without a reference set)."""
    parity = manifest.get("parity") or {}
    accuracy = {name: rep.get("metric") for name, rep in (parity.get("variants") or {}).items()}
    if parity.get("reference_metric") is not None:
        accuracy["pytorch-fp32"] = parity["reference_metric"]
    for name, res in results.items():
        if name in accuracy:
            res["accuracy"] = {"metric": parity.get("metric"), "value": accuracy[name], "source": FROM_BUNDLE}
    if checked is not None:
        reference_value = None
        for name, figures in checked["variants"].items():
            if name in results:
                results[name]["accuracy"] = accuracy_measured(figures)
                reference_value = figures.get("reference_value", reference_value)
        if "pytorch-fp32" in results and reference_value is not None:
            results["pytorch-fp32"]["accuracy"] = {
                "metric": parity.get("metric"), "value": reference_value, "source": "PyTorch's stored answers on the reference set",
            }
    model_files = {n: manifest["files"].get(s["file"], {}).get("sha256") for n, s in manifest["variants"].items()}
    report: dict[str, Any] = {
        "format": REPORT_FORMAT,
        "schema_version": REPORT_SCHEMA_VERSION,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "device": device,
        "bundle": {
            "path": str(bundle),
            "task": manifest["task"],
            "source_run": (manifest.get("source") or {}).get("run"),
            "base_model": (manifest.get("source") or {}).get("base_model"),
            "max_length": manifest["max_length"],
            "model_sha256": model_files,
        },
        "settings": settings,
        "results": results,
        "check": check_summary(checked),
    }
    if reference:
        report["ratios"] = ratios(results, reference)
    return report


def accuracy_measured(figures: dict) -> dict[str, Any]:
    """A result's ``accuracy`` from the device check of its variant."""
    keys = ("metric", "value", "reference_value", "drop", "drop_limit", "exporter_drop", "label_agreement", "agreement_unit", "max_abs_diff", "samples", "passed", "failures")
    return {**{k: figures[k] for k in keys if k in figures}, "source": MEASURED_HERE}


def check_summary(checked: dict | None) -> dict[str, Any]:
    """The report's ``check``: whether the accuracy was measured here, with which limits, and the verdict."""
    if checked is None:
        return {"status": "not run: the bundle has no reference set, so accuracy is the exporting machine's parity figure"}
    failed = [name for name, r in checked["variants"].items() if not r["passed"]]
    return {
        "status": "failed" if failed else "passed",
        "samples": checked["samples"],
        "limits": checked["limits"],
        "failed_variants": failed,
    }


def format_table(report: dict) -> str:
    """A plain-text table of a report, one row per engine."""
    results = report["results"]
    lengths = sorted({k for r in results.values() for k in r["latency_ms"]}, key=int)
    head = ["engine", *[f"p50@{n} ms" for n in lengths], *[f"p90@{n}" for n in lengths], "texts/s", "cold s", "RSS MB", "size MB"]
    rows = [head]
    for name, r in results.items():
        rows.append(
            [
                name,
                *[f"{r['latency_ms'][n]['p50']:.2f}" for n in lengths],
                *[f"{r['latency_ms'][n]['p90']:.2f}" for n in lengths],
                f"{r['throughput']['texts_per_s']:.1f}",
                f"{r['cold_start_s']:.2f}" if "cold_start_s" in r else "-",
                f"{r['peak_rss_mb']:.0f}" if "peak_rss_mb" in r else "-",
                f"{r['size_mb']:.1f}",
            ]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)) for row in rows]
    for name, ratio in (report.get("ratios") or {}).items():
        speed = ", ".join(f"{n}: {v:.2f}x" for n, v in ratio["latency_speedup_p50"].items())
        extra = f", RSS {ratio['peak_rss_ratio']:.2f}x" if "peak_rss_ratio" in ratio else ""
        lines.append(f"{name} vs {ratio['vs']}: latency speed-up {speed}; throughput {ratio['throughput_speedup']:.2f}x{extra}")
    lines.append(check_line(report))
    return "\n".join(lines)


def check_line(report: dict) -> str:
    """One line on the accuracy of each variant on this device (or why it was not measured)."""
    check = report.get("check") or {}
    if check.get("status") not in ("passed", "failed"):
        return f"accuracy check: {check.get('status', 'not run')}"
    parts = []
    for name, r in report["results"].items():
        acc = r.get("accuracy") or {}
        if acc.get("source") == MEASURED_HERE:
            parts.append(
                f"{name} {acc.get('metric')} {acc.get('value', float('nan')):.2f} (PyTorch {acc.get('reference_value', float('nan')):.2f}), "
                f"agreement {100 * acc['label_agreement']:.2f}%{'' if acc['passed'] else ' FAILED'}"
            )
    return f"accuracy check on this device ({check['samples']} reference texts): {check['status']}; " + "; ".join(parts)
