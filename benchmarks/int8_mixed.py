"""Issue 29's figures: what `edgeft export --int8` keeps under a budget, against fp32 and full int8.

For each case (a run folder, optionally its held-out file), one bundle per budget, each through
the real CLI (`edgeft export RUN --int8 --max-drop B`; calibration from the run's training file):

  full int8   `--max-drop 100 --mixed-search-seconds 0`: the int8 graph the export keeps when
              any loss is allowed (dynamic or static, whichever its own rules pick)
  budget B    the default rules with `--max-drop B`: full int8 when it fits, else the mixed-
              precision search's graph, else refused (the error line is recorded)

With `--method static` (the search forced: static int8 is the only full-graph candidate) the
budget exports get `--int8-method static`, and two more graphs are made: full static int8 (the
search's starting point) and, with `--float-only-too`, the search limited to float
(`--no-mixed-dynamic`) at each budget, so a mix with dynamic layers and one with float layers are
timed side by side.

Per bundle: the task metric on the gate's held-out data against PyTorch (drop), label agreement
with PyTorch, the method and the nodes kept in float, the search's time, and file size. Then every
kept graph and fp32 are timed in ONE process at batch 1 on texts of 16 and 128 tokens (engines
alternating in blocks, `--passes` passes in rotating order; per graph the median over all calls,
and per mix the share of full int8's speed-up over fp32 it keeps: each pass's own ratio, median
over passes; the runtime's own call, tokenising included). A bundle whose max length is below a
length is timed at its max length (recorded as `tokens`).

Exports and timing can run apart (the CPU rule: exports under `nice -n 19`, timing under
`flock /work/latency.lock` at normal priority): `--no-timing` exports only; a later run finds the
bundles (and their export seconds, in `NAME.export.json` beside them) and times them.

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
    sidecar = out.with_name(out.name + ".export.json")
    if not (out / "edgeft.json").exists():
        cmd = [*EDGEFT, "export", str(run), "--int8", "--out", str(out), "--overwrite", "--reference-samples", "0", *args]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            lines = [line for line in done.stderr.splitlines() if line.startswith("error:")] or done.stderr.splitlines()[-1:]
            return {"refused": lines[-1] if lines else f"exit {done.returncode}", "seconds": round(time.monotonic() - started, 1)}
        sidecar.write_text(json.dumps({"seconds": round(time.monotonic() - started, 1), "command": cmd[2:], "load_after": os.getloadavg()}) + "\n")
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
                 "dynamic_nodes": len(spec["quantization"].get("dynamic_nodes") or []),
                 "float_groups": mixed.get("float_groups"), "dynamic_groups": mixed.get("dynamic_groups"), "mb": round((out / spec["file"]).stat().st_size / 2**20, 2)},
        "choice": int8.get("choice"),
        "candidates": int8.get("candidates"),
        "search": {k: mixed[k] for k in ("full_int8_metric", "sensitivity", "steps", "modes", "seconds", "latency_ms", "speedup_retained", "timing", "stopped") if k in mixed} or None,
        "seconds": json.loads(sidecar.read_text())["seconds"] if sidecar.exists() else round(time.monotonic() - started, 1),
    }


def call_of(model):
    """The runtime call an app makes for one text: predict (classifiers, SetFit) or tag (NER)."""
    return model.tag if hasattr(model, "tag") else model.predict


def timing(graphs: dict[str, tuple[str, str]], runs: int, passes: int, full: list[str]) -> dict:
    """Per length: median ms per batch-1 call of each (bundle, variant) over ``passes`` interleaved
    passes in rotating order, and per graph the share of each of ``full``'s speed-up over fp32 it
    keeps (median of the passes' own ratios)."""
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
    max_length = next(iter(models.values())).manifest["max_length"]
    out = {}
    names = list(models)
    for n in LENGTHS:
        texts = [text_of_length(count, min(n, max_length), seed=s) for s in range(6)]
        samples: dict[str, list[float]] = {name: [] for name in names}
        ratios: dict[str, dict[str, list[float]]] = {ref: {name: [] for name in names} for ref in full}
        for p in range(passes):
            order = names[p % len(names):] + names[: p % len(names)]
            times = timed_blocks({name: call_of(models[name]) for name in order}, texts, runs)
            med = {name: statistics.median(v) for name, v in times.items()}
            for name in names:
                samples[name].extend(times[name])
                for ref in full:
                    gain = med["fp32"] - med[ref]
                    if gain > 0:
                        ratios[ref][name].append((med["fp32"] - med[name]) / gain)
        out[str(n)] = {
            "tokens": min(n, max_length),
            "ms": {name: round(1000 * statistics.median(v), 3) for name, v in samples.items()},
            "speedup_retained": {ref: {name: round(statistics.median(r), 3) for name, r in per.items() if r and name not in ("fp32", ref)} for ref, per in ratios.items()},
            "speedup_retained_per_pass": {ref: {name: [round(x, 3) for x in r] for name, r in per.items() if name not in ("fp32", ref)} for ref, per in ratios.items()},
        }
    return out


def batch_effects(graphs: dict[str, tuple[str, str]], run: Path, texts: int = 64) -> dict:
    """Largest probability change of a text between batches of 32 and alone, per graph, on the
    run's first held-out texts (a mix with dynamic layers moves; static and fp32 do not)."""
    import edgeft_runtime
    from edgeft_runtime.batch_effect import batch_effect

    rows = [json.loads(line) for line in (run / "eval.jsonl").read_text().splitlines() if line.strip()][:texts] if (run / "eval.jsonl").exists() else []
    sample = [row["text"] for row in rows]
    return {name: batch_effect(edgeft_runtime.load(bundle, variant=variant), sample) for name, (bundle, variant) in graphs.items()} if sample else {}


def run_case(name: str, run: Path, work: Path, budgets: list[float], extra: list[str], args: argparse.Namespace) -> dict:
    case: dict = {"run": str(run), "budgets": {}}
    full = export(run, work / f"{name}-full", [*extra, "--max-drop", "100", "--mixed-search-seconds", "0"])
    case["full_int8"] = full
    graphs = {"fp32": (full["bundle"], "fp32"), "full int8": (full["bundle"], "int8")} if "bundle" in full else {}
    forced = ["--int8-method", "static"] if args.method == "static" else []
    if forced:
        case["full_static"] = export(run, work / f"{name}-full-static", [*extra, "--max-drop", "100", "--mixed-search-seconds", "0", *forced])
        if "bundle" in case["full_static"]:
            graphs["full static"] = (case["full_static"]["bundle"], "int8")
    variants = [("", [])] + ([(" float-only", ["--no-mixed-dynamic"])] if args.float_only_too else [])
    for budget in budgets:
        for label, more in variants:
            print(f"{name}: --max-drop {budget:g}{label}", file=sys.stderr, flush=True)
            key = f"{budget:g}{label}"
            kept = export(run, work / f"{name}-b{budget:g}{label.strip() and '-' + label.strip()}", ["--max-drop", f"{budget:g}", *forced, *more, *extra])
            case["budgets"][key] = kept
            if "bundle" in kept:
                graphs[f"max-drop {key}"] = (kept["bundle"], "int8")
    if args.no_timing:
        return case
    case["batch_effect"] = batch_effects(graphs, run)
    case["load_before_timing"] = os.getloadavg()
    refs = [g for g in ("full int8", "full static") if g in graphs]
    case["latency"] = timing(graphs, args.runs, args.passes, refs) if graphs else {}
    case["load_after_timing"] = os.getloadavg()
    return case


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--case", action="append", required=True, help="NAME=RUN_FOLDER (repeatable)")
    parser.add_argument("--budgets", default="1,0.2")
    parser.add_argument("--parity-samples", type=int, default=500)
    parser.add_argument("--search-seconds", type=float, default=900)
    parser.add_argument("--runs", type=int, default=30, help="timed calls per graph per pass")
    parser.add_argument("--passes", type=int, default=5)
    parser.add_argument("--method", choices=("auto", "static"), default="auto", help="static: --int8-method static for the budget exports")
    parser.add_argument("--float-only-too", action="store_true", help="also export each budget with --no-mixed-dynamic")
    parser.add_argument("--no-timing", action="store_true", help="export only (timing in a later run, under the latency lock)")
    parser.add_argument("--work", type=Path, default=ROOT / "models" / "int8-mixed")
    parser.add_argument("--results", default="int8_mixed.json")
    args = parser.parse_args()
    from edgeft_runtime.device import device_info

    budgets = [float(b) for b in args.budgets.split(",")]
    extra = ["--parity-samples", str(args.parity_samples), "--mixed-search-seconds", f"{args.search_seconds:g}"]
    report = {"benchmark": "int8_mixed", "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "device": device_info(1), "load_average": {"before": os.getloadavg()},
              "command": "python benchmarks/int8_mixed.py " + " ".join(sys.argv[1:]), "cases": {}}
    args.work.mkdir(parents=True, exist_ok=True)
    out = RESULTS / args.results
    for spec in args.case:
        name, run = spec.split("=", 1)
        report["cases"][name] = run_case(name, Path(run), args.work, budgets, extra, args)
        report["load_average"]["after"] = os.getloadavg()
        out.write_text(json.dumps(report, indent=2) + "\n")  # after each case: a long run keeps what it measured
    print_table(report)


def print_table(report: dict) -> None:
    print("| model | graph | metric (drop vs PyTorch) | agreement | float / dynamic groups | 16 tok ms | 128 tok ms | MB | kept of full int8's speed-up 16 / 128 |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, case in report["cases"].items():
        lat = case.get("latency") or {}
        full = case["full_int8"]
        rows = []
        if "bundle" in full:
            rows += [("fp32", full["fp32"]), ("full int8", full["int8"])]
        if "bundle" in (case.get("full_static") or {}):
            rows.append(("full static", case["full_static"]["int8"]))
        for budget, kept in case["budgets"].items():
            rows.append((f"max-drop {budget}", kept.get("int8") or {"refused": kept.get("refused")}))
        for label, r in rows:
            if "refused" in r:
                print(f"| {name} | {label} | refused: {r['refused']} | | | | | | |")
                continue
            cells = [f"{lat.get(str(n), {}).get('ms', {}).get(label, float('nan')):.2f}" for n in LENGTHS]
            kept = " / ".join(", ".join(f"{ref}: {100 * v:.0f}%" for ref, per in lat.get(str(n), {}).get("speedup_retained", {}).items() for g, v in per.items() if g == label) or "-" for n in LENGTHS)
            groups = f"{', '.join(r.get('float_groups') or []) or '-'} / {', '.join(r.get('dynamic_groups') or []) or '-'}"
            method = r.get("method") or ""
            print(f"| {name} | {label} ({method}) | {r['value']:.2f} ({r['drop']:+.2f}) | {100 * r['agreement']:.1f}% | {groups} | {' | '.join(cells)} | {r['mb']} | {kept} |")


if __name__ == "__main__":
    main()
