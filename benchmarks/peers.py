"""edgeft-runtime against its peers, on one machine, in one run: the same fine-tuned MiniLM
SST-2 classifier served by

  pytorch          transformers pipeline, PyTorch fp32 (the reference for every ratio)
  optimum-fp32     Optimum ORTModelForSequenceClassification + its pipeline, on edgeft's fp32 graph
  optimum-int8     the same on edgeft's int8 graph
  ort-bare-int8    a plain onnxruntime session on the int8 graph, inputs tokenised before timing:
                   the ceiling any wrapper can reach
  edgeft-fp32 / edgeft-int8 / edgeft-int8-<other>   edgeft_runtime.load(...).predict, one per
                   bundle variant and quantisation alternative (per-channel vs per-tensor)

sentence-transformers' ONNX backend does not apply here: it serves embedding models and
cross-encoders, whose inputs are text pairs (a list of two strings is read as one pair), not a
single-text classifier.

Every engine runs in its own fresh process, in turn, for several passes; the figures are
medians over passes with the spread (min..max of the pass medians), and each ratio against
PyTorch is computed within a pass, then the median taken. Per process: cold start (process start
to first prediction), batch-1 latency at 16/64/128 tokens (median, p90), throughput in batches of
32 on a realistic length mix, peak RSS after batch-1 serving and after the batch-32 workload,
model size, and (first pass) accuracy on SST-2 dev.

    python benchmarks/peers.py [--passes 3] [--runs 100] [--threads N]

Needs the run and bundle of benchmarks/sst2_classifier.py (models/bench-sst2/). Writes
benchmarks/results/peers.json, benchmarks/results/peers.png and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from shared_data import ROOT, SST2_LABELS, read_label_text, require, token_feed  # noqa: E402

LENGTHS = (16, 64, 128)
RESULTS = ROOT / "benchmarks" / "results"


# ----------------------------------------------------------------------------- worker side


def vm_hwm_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def make_engine(name: str, spec: dict, threads: int | None):
    """(predict_one(text) -> label, predict_many(texts) -> labels, size_bytes) for one engine."""
    if name == "pytorch":
        import torch
        from transformers import pipeline

        if threads:
            torch.set_num_threads(threads)
        pipe = pipeline("text-classification", model=spec["run"], tokenizer=spec["run"], device=-1)
        size = (Path(spec["run"]) / "model.safetensors").stat().st_size
        return (lambda t: pipe(t, truncation=True)[0]["label"]), (lambda ts: [r["label"] for r in pipe(ts, batch_size=32, truncation=True)]), size
    if name.startswith("optimum-"):
        import onnxruntime as ort
        from optimum.onnxruntime import ORTModelForSequenceClassification
        from optimum.pipelines import pipeline
        from transformers import AutoTokenizer

        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        file_name = "model_int8.onnx" if name.endswith("int8") else "model.onnx"
        model = ORTModelForSequenceClassification.from_pretrained(spec["optimum_dir"], file_name=file_name, session_options=options)
        pipe = pipeline("text-classification", model=model, tokenizer=AutoTokenizer.from_pretrained(spec["optimum_dir"]), accelerator="ort")
        size = (Path(spec["optimum_dir"]) / file_name).stat().st_size
        return (lambda t: pipe(t, truncation=True)[0]["label"]), (lambda ts: [r["label"] for r in pipe(ts, batch_size=32, truncation=True)]), size
    if name == "ort-bare-int8":
        import numpy as np
        import onnxruntime as ort
        from tokenizers import Tokenizer

        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        path = Path(spec["bundle"]) / "model_int8.onnx"
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        tok = Tokenizer.from_file(str(Path(spec["bundle"]) / "tokenizer.json"))
        tok.no_padding()
        labels = spec["labels"]

        def feed(texts):
            return token_feed(tok, texts)

        cache: dict[str, dict] = {}

        def one(text):  # tokenised once, outside the timed call after the first: the graph alone
            if text not in cache:
                cache[text] = feed([text])
            return labels[int(session.run(["logits"], cache[text])[0].argmax())]

        def many(texts):
            order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
            out = [None] * len(texts)
            for start in range(0, len(order), 32):
                idx = order[start : start + 32]
                logits = session.run(["logits"], feed([texts[i] for i in idx]))[0]
                for i, row in zip(idx, logits):
                    out[i] = labels[int(row.argmax())]
            return out

        return one, many, path.stat().st_size
    if name.startswith("edgeft-"):
        import edgeft_runtime

        bundle, variant = spec["edgeft"][name]
        model = edgeft_runtime.load(bundle, variant=variant, threads=threads)
        size = (Path(bundle) / model.manifest["variants"][model.variant]["file"]).stat().st_size
        return (lambda t: model.predict(t)["label"]), (lambda ts: [r["label"] for r in model.predict(ts, batch_size=32)]), size
    raise SystemExit(f"unknown engine {name}")


def overhead_worker(spec_path: str, threads: int | None, runs: int) -> None:
    """edgeft int8 ``predict`` against the bare session on the same graph, in ONE process.

    Fresh processes differ from each other by more than the 10% this compares (the per-pass
    spread in the table), so the wrapper's cost is measured paired: both engines alternate in
    blocks (edgeft_runtime.timing) on the same texts; the bare calls get their inputs tokenised
    ahead of time, edgeft tokenises, runs and post-processes inside each call.

    The bare calls go to the model's own onnxruntime session: a second session in the process
    would bring a second intra-op thread pool, whose threads still spin from one engine's block
    while the other engine's block runs (seen here: 4.5 ms became 6.7-7.8 ms at 64 tokens for the
    engine that followed a switch).
    """
    import edgeft_runtime
    from edgeft_runtime.timing import timed_blocks

    spec = json.loads(Path(spec_path).read_text())
    model = edgeft_runtime.load(spec["bundle"], variant="int8", threads=threads)
    bare = model.session
    ratios = {}
    for n in LENGTHS:
        texts = spec["texts"][str(n)]
        feeds = [model._feed(model.tokenizer.encode([t])) for t in texts]
        times = timed_blocks(
            {"edgeft": lambda i: model.predict(texts[i]), "bare": lambda i: bare.run(["logits"], feeds[i])},
            list(range(len(texts))),
            runs,
        )
        edgeft_ms, bare_ms = (1000 * statistics.median(times[k]) for k in ("edgeft", "bare"))
        ratios[str(n)] = {"edgeft_ms": edgeft_ms, "bare_ms": bare_ms, "ratio": edgeft_ms / bare_ms}
    print(json.dumps(ratios))


def worker(name: str, spec_path: str, threads: int | None, runs: int, with_accuracy: bool) -> None:
    if name == "overhead":
        overhead_worker(spec_path, threads, runs)
        return
    spec = json.loads(Path(spec_path).read_text())
    one, many, size = make_engine(name, spec, threads)
    one("warm up with the first prediction")
    ready = time.time()
    latency = {}
    for n in LENGTHS:
        texts = spec["texts"][str(n)]
        one(texts[0])  # the bare session tokenises here, outside the timed calls
        for t in texts:
            one(t)
        times = []
        for i in range(runs):
            start = time.perf_counter()
            one(texts[i % len(texts)])
            times.append(time.perf_counter() - start)
        ms = sorted(1000 * t for t in times)
        latency[str(n)] = {"p50": statistics.median(ms), "p90": ms[int(0.9 * (len(ms) - 1))]}
    rss_serving = vm_hwm_mb()
    mix = spec["mix"]
    many(mix[:32])
    tput = []
    for _ in range(3):
        start = time.perf_counter()
        many(mix)
        tput.append(len(mix) / (time.perf_counter() - start))
    result = {
        "first_prediction_at": ready,
        "latency_ms": latency,
        "texts_per_s": statistics.median(tput),
        "peak_rss_serving_mb": rss_serving,
        "peak_rss_batch_mb": vm_hwm_mb(),
        "size_mb": size / 1e6,
    }
    if with_accuracy:
        dev = spec["dev"]
        predicted = many([t for t, _ in dev])
        result["accuracy"] = None if None in predicted else 100 * sum(p == g for p, (_, g) in zip(predicted, dev)) / len(dev)
    print(json.dumps(result))


# ----------------------------------------------------------------------------- parent side


def prepare(work: Path, run_dir: Path, bundle_dir: Path) -> dict:
    """Folders the peers load from, the alternative quantisation, the texts; returns the spec."""
    from edgeft_exporters.api import ExportOptions, export_run
    from edgeft_runtime.bench import length_mix, text_of_length
    from tokenizers import Tokenizer

    manifest = json.loads((bundle_dir / "edgeft.json").read_text())
    labels = manifest["labels"]
    optimum_dir = work / "optimum"
    if not optimum_dir.exists():
        optimum_dir.mkdir(parents=True)
        for name in ("config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt"):
            if (run_dir / name).exists():
                shutil.copy(run_dir / name, optimum_dir / name)
        for name in ("model.onnx", "model_int8.onnx"):
            shutil.copy(bundle_dir / name, optimum_dir / name)
    chosen = manifest["variants"]["int8"]["quantization"]["per_channel"]
    other = work / f"bundle-int8-{'pertensor' if chosen else 'perchannel'}"
    if not (other / "edgeft.json").exists():
        export_run(run_dir, other, ExportOptions(int8=True, per_channel="off" if chosen else "on", max_drop=100.0, overwrite=True))
    tok = Tokenizer.from_file(str(bundle_dir / "tokenizer.json"))
    tok.no_padding()
    count = lambda t: len(tok.encode(t).ids)  # noqa: E731
    dev = read_label_text(require("sst2") / "dev.txt", SST2_LABELS)
    edgeft = {
        "edgeft-fp32": [str(bundle_dir), "fp32"],
        f"edgeft-int8 ({'per-channel' if chosen else 'per-tensor'})": [str(bundle_dir), "int8"],
        f"edgeft-int8 ({'per-tensor' if chosen else 'per-channel'})": [str(other), "int8"],
    }
    return {
        "run": str(run_dir),
        "bundle": str(bundle_dir),
        "optimum_dir": str(optimum_dir),
        "labels": labels,
        "edgeft": edgeft,
        "texts": {str(n): [text_of_length(count, n, seed=s) for s in range(8)] for n in LENGTHS},
        "mix": [text_of_length(count, n, seed=i) for i, n in enumerate(length_mix(256, 128))],
        "dev": dev,
    }


def run_worker(name: str, spec_path: Path, threads: int | None, runs: int, with_accuracy: bool) -> dict:
    argv = [sys.executable, __file__, "--worker", name, "--spec", str(spec_path), "--runs", str(runs)]
    if threads:
        argv += ["--threads", str(threads)]
    if with_accuracy:
        argv.append("--accuracy")
    started = time.time()
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=3600)
    if proc.returncode != 0:
        raise SystemExit(f"{name} failed: {proc.stderr.strip().splitlines()[-1:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    if name == "overhead":
        return result
    result["cold_start_s"] = result.pop("first_prediction_at") - started
    return result


def summarise(passes: list[dict[str, dict]]) -> dict[str, dict]:
    """Median over passes and the spread, plus within-pass ratios against pytorch."""
    names = list(passes[0])
    out = {}
    for name in names:
        rows = [p[name] for p in passes]

        def agg(get):
            values = [get(r) for r in rows]
            return {"median": statistics.median(values), "min": min(values), "max": max(values)}

        entry = {
            "latency_p50_ms": {str(n): agg(lambda r, n=n: r["latency_ms"][str(n)]["p50"]) for n in LENGTHS},
            "latency_p90_ms": {str(n): agg(lambda r, n=n: r["latency_ms"][str(n)]["p90"]) for n in LENGTHS},
            "texts_per_s": agg(lambda r: r["texts_per_s"]),
            "cold_start_s": agg(lambda r: r["cold_start_s"]),
            "peak_rss_serving_mb": agg(lambda r: r["peak_rss_serving_mb"]),
            "peak_rss_batch_mb": agg(lambda r: r["peak_rss_batch_mb"]),
            "size_mb": rows[0]["size_mb"],
            "accuracy": next((r["accuracy"] for r in rows if "accuracy" in r), None),
        }
        if name != "pytorch":
            entry["speedup_vs_pytorch"] = {
                str(n): statistics.median(p["pytorch"]["latency_ms"][str(n)]["p50"] / p[name]["latency_ms"][str(n)]["p50"] for p in passes)
                for n in LENGTHS
            }
            entry["throughput_vs_pytorch"] = statistics.median(p[name]["texts_per_s"] / p["pytorch"]["texts_per_s"] for p in passes)
        out[name] = entry
    return out


def plot(summary: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    names = list(summary)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 5))
    width = 0.8 / len(names)
    x = np.arange(len(LENGTHS))
    for i, name in enumerate(names):
        med = [summary[name]["latency_p50_ms"][str(n)]["median"] for n in LENGTHS]
        lo = [m - summary[name]["latency_p50_ms"][str(n)]["min"] for m, n in zip(med, LENGTHS)]
        hi = [summary[name]["latency_p50_ms"][str(n)]["max"] - m for m, n in zip(med, LENGTHS)]
        ax1.bar(x + i * width, med, width, yerr=[lo, hi], label=name, capsize=2)
    ax1.set_xticks(x + width * (len(names) - 1) / 2, [f"{n} tokens" for n in LENGTHS])
    ax1.set(ylabel="batch-1 latency, median ms (bars: spread over passes)", title="Latency")
    ax1.legend(fontsize=7)
    tput = [summary[n]["texts_per_s"]["median"] for n in names]
    ax2.barh(names, tput)
    ax2.set(xlabel="texts/s (batches of 32, mixed lengths)", title="Throughput")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--spec", help=argparse.SUPPRESS)
    parser.add_argument("--accuracy", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--engines", default=None, help="comma-separated subset of engines")
    parser.add_argument("--work", type=Path, default=ROOT / "models" / "bench-sst2")
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.spec, args.threads, args.runs, args.accuracy)
        return

    run_dir, bundle_dir = args.work / "run", args.work / "bundle-int8"
    if not (bundle_dir / "edgeft.json").is_file():
        sys.exit(f"missing {bundle_dir}: run benchmarks/sst2_classifier.py first")
    spec = prepare(args.work / "peers", run_dir, bundle_dir)
    spec_path = args.work / "peers" / "spec.json"
    spec_path.write_text(json.dumps(spec))
    names = ["pytorch", "optimum-fp32", "optimum-int8", "ort-bare-int8", *spec["edgeft"]]
    if args.engines:
        wanted = args.engines.split(",")
        names = [n for n in names if n == "pytorch" or any(n.startswith(w) for w in wanted)]
    passes, overhead_passes = [], []
    for p in range(args.passes):
        order = names[p % len(names) :] + names[: p % len(names)]  # rotate who goes first
        results = {}
        for name in order:
            print(f"pass {p + 1}/{args.passes}: {name}", file=sys.stderr, flush=True)
            results[name] = run_worker(name, spec_path, args.threads, args.runs, with_accuracy=(p == 0))
        passes.append({n: results[n] for n in names})
        print(f"pass {p + 1}/{args.passes}: edgeft-int8 vs bare session, paired in one process", file=sys.stderr, flush=True)
        overhead_passes.append(run_worker("overhead", spec_path, args.threads, 3 * args.runs, with_accuracy=False))
    summary = summarise(passes)
    overhead = {
        str(n): {
            "ratio": statistics.median(o[str(n)]["ratio"] for o in overhead_passes),
            "min": min(o[str(n)]["ratio"] for o in overhead_passes),
            "max": max(o[str(n)]["ratio"] for o in overhead_passes),
            "edgeft_ms": statistics.median(o[str(n)]["edgeft_ms"] for o in overhead_passes),
            "bare_ms": statistics.median(o[str(n)]["bare_ms"] for o in overhead_passes),
        }
        for n in LENGTHS
    }

    from edgeft_runtime.device import device_info

    RESULTS.mkdir(parents=True, exist_ok=True)
    out = {"benchmark": "peers", "device": device_info(args.threads), "passes": args.passes, "runs": args.runs, "summary": summary, "wrapper_overhead": overhead, "raw": passes, "raw_overhead": overhead_passes}
    (RESULTS / "peers.json").write_text(json.dumps(out, indent=2) + "\n")
    plot(summary, RESULTS / "peers.png")

    def spread(d, fmt=".2f"):
        return f"{d['median']:{fmt}} ({d['min']:{fmt}}–{d['max']:{fmt}})"

    print("| engine | p50 ms @16 | @64 | @128 | p90 @16 / 64 / 128 | texts/s | speed-up @16 / 64 / 128 | cold start s | RSS MB serving / batch | size MB | SST-2 dev acc |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name, s in summary.items():
        lat = s["latency_p50_ms"]
        p90 = " / ".join(f"{s['latency_p90_ms'][str(n)]['median']:.2f}" for n in LENGTHS)
        speed = " / ".join(f"{s['speedup_vs_pytorch'][str(n)]:.2f}x" for n in LENGTHS) if "speedup_vs_pytorch" in s else "1.00x (reference)"
        acc = f"{s['accuracy']:.2f}" if s["accuracy"] is not None else "n/a"
        print(
            f"| {name} | {spread(lat['16'])} | {spread(lat['64'])} | {spread(lat['128'])} | {p90} | {s['texts_per_s']['median']:.0f} | {speed} | "
            f"{s['cold_start_s']['median']:.2f} | {s['peak_rss_serving_mb']['median']:.0f} / {s['peak_rss_batch_mb']['median']:.0f} | {s['size_mb']:.1f} | {acc} |"
        )
    print("\nedgeft-int8 predict / bare session, paired in one process (median of passes, spread):")
    for n in LENGTHS:
        o = overhead[str(n)]
        print(f"  {n} tokens: {o['ratio']:.3f}x ({o['min']:.3f}–{o['max']:.3f}); {o['edgeft_ms']:.2f} ms vs {o['bare_ms']:.2f} ms")
    print(f"\nwrote {RESULTS / 'peers.json'} and {RESULTS / 'peers.png'}")


if __name__ == "__main__":
    main()
