"""Issue 29's figures: what `edgeft export --int8` keeps under a budget, against fp32 and full int8.

For each case (a run folder, optionally its held-out file), one bundle per budget, each through
the real CLI (`edgeft export RUN --int8 --max-drop B`; calibration from the run's training file):

  full int8   `--max-drop 100 --mixed-search-seconds 0`: the int8 graph the export keeps when
              any loss is allowed (dynamic or static, whichever its own rules pick)
  budget B    the default rules with `--max-drop B`: full int8 when it fits, else the mixed-
              precision search's graph, else refused (the error line is recorded)

Per bundle: the task metric on the gate's held-out data against PyTorch (drop), label agreement
with PyTorch, the method and the nodes kept in float, the search's time, and file size. Then every
kept graph and fp32 are timed in ONE process at batch 1 on texts of 16 and 128 tokens (engines
alternating in blocks, medians; the runtime's own call, tokenising included).

    python benchmarks/int8_mixed.py --case sst2=/work/models-shared/sst2-minilm-128 \\
        --case conll=RUN --case agnews=RUN --budgets 1,0.2 [--parity-samples 500]

Writes benchmarks/results/int8_mixed.json (--results NAME) with machine, load and date.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from shared_data import ROOT  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
EDGEFT = [sys.executable, "-m", "edgeft"]
LENGTHS = (16, 128)


def export(run: Path, out: Path, args: list[str]) -> dict:
    """One `edgeft export`; the manifest's figures, or the refusal's error line."""
    started = time.monotonic()
    if not (out / "edgeft.json").exists():
        cmd = [*EDGEFT, "export", str(run), "--int8", "--out", str(out), "--overwrite", "--reference-samples", "0", *args]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            lines = [line for line in done.stderr.splitlines() if line.startswith("error:")] or done.stderr.splitlines()[-1:]
            return {"refused": lines[-1] if lines else f"exit {done.returncode}", "seconds": round(time.monotonic() - started, 1)}
    manifest = json.loads((out / "edgeft.json").read_text())
    parity, spec = manifest["parity"], manifest["variants"]["int8"]
    int8, fp32 = parity["variants"]["int8"], parity["variants"]["fp32"]
    mixed = int8.get("mixed_precision") or {}
    return {
        "bundle": str(out),
        "metric": parity["metric"],
        "pytorch": parity["reference_metric"],
        "samples": parity["samples"],
        "fp32": {"value": fp32["metric"], "drop": round(parity["reference_metric"] - fp32["metric"], 4), "agreement": fp32["label_agreement"],
                 "mb": round((out / manifest["variants"]["fp32"]["file"]).stat().st_size / 2**20, 2)},
        "int8": {"value": int8["metric"], "drop": round(parity["reference_metric"] - int8["metric"], 4), "agreement": int8["label_agreement"],
                 "method": spec["quantization"].get("method"), "float_nodes": len(spec["quantization"].get("float_nodes") or []),
                 "float_groups": mixed.get("float_groups"), "mb": round((out / spec["file"]).stat().st_size / 2**20, 2)},
        "choice": int8.get("choice"),
        "candidates": int8.get("candidates"),
        "search": {k: mixed[k] for k in ("full_int8_metric", "sensitivity", "steps", "seconds", "latency_ms", "stopped") if k in mixed} or None,
        "seconds": round(time.monotonic() - started, 1),
    }


def call_of(model):
    """The runtime call an app makes for one text: predict (classifiers, SetFit) or tag (NER)."""
    return model.tag if hasattr(model, "tag") else model.predict


def timing(graphs: dict[str, tuple[str, str]], runs: int) -> dict:
    """Median ms per batch-1 call of each (bundle, variant), at 16 and 128 tokens, interleaved."""
    import edgeft_runtime
    from edgeft_runtime.bench import text_of_length
    from edgeft_runtime.timing import timed_blocks
    from tokenizers import Tokenizer

    models = {name: edgeft_runtime.load(bundle, variant=variant, threads=1) for name, (bundle, variant) in graphs.items()}
    first = next(iter(graphs.values()))[0]
    tok = Tokenizer.from_file(str(Path(first) / "tokenizer.json"))
    tok.no_truncation()
    tok.no_padding()
    count = lambda t: len(tok.encode(t).ids)  # noqa: E731
    out = {}
    for n in LENGTHS:
        texts = [text_of_length(count, n, seed=s) for s in range(6)]
        times = timed_blocks({name: call_of(m) for name, m in models.items()}, texts, runs)
        out[str(n)] = {name: round(1000 * statistics.median(v), 3) for name, v in times.items()}
    return out


def run_case(name: str, run: Path, work: Path, budgets: list[float], extra: list[str], runs: int) -> dict:
    case: dict = {"run": str(run), "budgets": {}}
    full = export(run, work / f"{name}-full", ["--max-drop", "100", "--mixed-search-seconds", "0", *extra])
    case["full_int8"] = full
    graphs = {"fp32": (full["bundle"], "fp32"), "full int8": (full["bundle"], "int8")} if "bundle" in full else {}
    for budget in budgets:
        print(f"{name}: --max-drop {budget:g}", file=sys.stderr, flush=True)
        kept = export(run, work / f"{name}-b{budget:g}", ["--max-drop", f"{budget:g}", *extra])
        case["budgets"][f"{budget:g}"] = kept
        if "bundle" in kept:
            graphs[f"max-drop {budget:g}"] = (kept["bundle"], "int8")
    case["load_before_timing"] = os.getloadavg()
    case["latency_ms"] = timing(graphs, runs) if graphs else {}
    return case


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--case", action="append", required=True, help="NAME=RUN_FOLDER (repeatable)")
    parser.add_argument("--budgets", default="1,0.2")
    parser.add_argument("--parity-samples", type=int, default=500)
    parser.add_argument("--search-seconds", type=float, default=900)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--work", type=Path, default=ROOT / "models" / "int8-mixed")
    parser.add_argument("--results", default="int8_mixed.json")
    args = parser.parse_args()
    from edgeft_runtime.device import device_info

    budgets = [float(b) for b in args.budgets.split(",")]
    extra = ["--parity-samples", str(args.parity_samples), "--mixed-search-seconds", f"{args.search_seconds:g}"]
    report = {"benchmark": "int8_mixed", "date": time.strftime("%Y-%m-%d %H:%M"), "device": device_info(1), "load_average": {"before": os.getloadavg()}, "cases": {}}
    args.work.mkdir(parents=True, exist_ok=True)
    out = RESULTS / args.results
    for spec in args.case:
        name, run = spec.split("=", 1)
        report["cases"][name] = run_case(name, Path(run), args.work, budgets, extra, args.runs)
        report["load_average"]["after"] = os.getloadavg()
        out.write_text(json.dumps(report, indent=2) + "\n")  # after each case: a long run keeps what it measured
    print_table(report)


def print_table(report: dict) -> None:
    print("| model | graph | metric (drop vs PyTorch) | agreement | float groups | 16 tok ms | 128 tok ms | MB |")
    print("|---|---|---|---|---|---|---|---|")
    for name, case in report["cases"].items():
        lat = case.get("latency_ms") or {}
        full = case["full_int8"]
        rows = []
        if "bundle" in full:
            rows += [("fp32", full["fp32"], None), ("full int8", full["int8"], full["int8"]["method"])]
        for budget, kept in case["budgets"].items():
            rows.append((f"max-drop {budget}", kept.get("int8") or {"refused": kept.get("refused")}, (kept.get("int8") or {}).get("method")))
        for label, r, method in rows:
            if "refused" in r:
                print(f"| {name} | {label} | refused: {r['refused']} | | | | | |")
                continue
            cells = [f"{lat.get(str(n), {}).get(label, float('nan')):.2f}" for n in LENGTHS]
            groups = ", ".join(r.get("float_groups") or []) or "-"
            print(f"| {name} | {label}{f' ({method})' if method else ''} | {r['value']:.2f} ({r['drop']:+.2f}) | {100 * r['agreement']:.1f}% | {groups} | {' | '.join(cells)} | {r['mb']} |")


if __name__ == "__main__":
    main()
