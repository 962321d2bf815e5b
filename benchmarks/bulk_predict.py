"""Throughput and peak memory of predictions over a large input, against in-process predict(list).

    python benchmarks/bulk_predict.py models/demo-int8 --texts 200000 --rounds 3
    python benchmarks/bulk_predict.py models/demo-int8 --scaling 20000,200000 --engines stream-1

Texts: real sentences and abstracts from ../shared/data (SST-2, TREC, AG News, CoNLL-2003,
PubMed), sampled with replacement (seeded) to ``--texts``: mixed lengths, from a few tokens to
past the bundle's max length. Engines, each in a fresh process (peak RSS: the whole process tree,
workers and Ray's actors included, sampled every 50 ms):

- ``inprocess``: ``model.run_task(all_texts)`` after reading the file into a list;
- ``stream-1``, ``stream-2``: ``predict_file`` (``edgeft predict --input``) with 1 and 2 workers;
- ``ray-2``: ``predict_file_ray`` with 2 actors on a local Ray (its start-up is timed apart).

Timing excludes process start-up and, for Ray, ``ray.init``; it includes reading the input,
loading the bundle (a fraction of a second) and writing the output. Engines run in rotated
order in each round and the table reports medians over rounds and the median of per-round
ratios, because other jobs share this machine.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.shared_data import require  # noqa: E402

ENGINES = ("inprocess", "stream-1", "stream-2", "ray-2")

CHILD = r"""
import json, sys, time
engine, bundle, source, out, chunk = sys.argv[1:6]
chunk = int(chunk)
from pathlib import Path
result = {}
if engine == "inprocess":
    import edgeft_runtime
    start = time.perf_counter()
    model = edgeft_runtime.load(bundle)
    texts = [line.rstrip("\n") for line in open(source, encoding="utf-8")]
    predictions = model.run_task(texts)
    result["seconds"] = time.perf_counter() - start
    result["rows"] = len(predictions)
elif engine.startswith("stream-"):
    from edgeft.bulk import FileJob, predict_file
    start = time.perf_counter()
    r = predict_file(FileJob(Path(bundle), Path(source), Path(out), workers=int(engine.split("-")[1]), chunk_size=chunk, progress=False, overwrite=True))
    result["seconds"] = time.perf_counter() - start
    result["rows"] = r.rows
else:
    import logging, ray
    start = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
    result["startup_seconds"] = time.perf_counter() - start
    from edgeft.bulk import FileJob
    from edgeft.bulk.ray_engine import predict_file_ray
    start = time.perf_counter()
    r = predict_file_ray(FileJob(Path(bundle), Path(source), Path(out), chunk_size=chunk, progress=False, overwrite=True), concurrency=int(engine.split("-")[1]))
    result["seconds"] = time.perf_counter() - start
    result["rows"] = r.rows
print("RESULT " + json.dumps(result), flush=True)
"""


def corpus(n: int, seed: int = 0, short: bool = False) -> list[str]:
    """``n`` real texts of mixed length, sampled with replacement from the shared data sets."""
    pool: list[str] = []
    for name in ("sst2/train.txt", "trec/train.txt"):
        path = require(name)
        pool += [line.split(" ", 1)[1].strip() for line in path.read_text(encoding="latin-1").splitlines() if " " in line]
    import csv

    with open(require("agnews") / "test.csv", newline="", encoding="utf-8") as f:
        for row in csv.reader(f):
            pool += [row[1], f"{row[1]}. {row[2]}"]
    sentence: list[str] = []
    for line in (require("conll2003") / "train.txt").read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("-DOCSTART-"):
            if sentence:
                pool.append(" ".join(sentence))
            sentence = []
        else:
            sentence.append(line.split()[0])
    pool += [line for line in require("pubmed_abstracts.txt").read_text(encoding="utf-8").splitlines() if line.strip()]
    pool = [" ".join(t.split()) for t in pool if t.strip() and (not short or len(t.split()) <= 24)]
    rng = random.Random(seed)
    return [rng.choice(pool) for _ in range(n)]


def run(engine: str, bundle: Path, source: Path, out: Path, chunk_size: int) -> dict:
    import psutil

    # As a user runs it: the tokenizer's thread pool as it comes (workers and actors turn it off themselves).
    env = {k: v for k, v in os.environ.items() if k != "TOKENIZERS_PARALLELISM"}
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, engine, str(bundle), str(source), str(out), str(chunk_size)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    root = psutil.Process(proc.pid)
    peak = 0
    ray_procs: dict[int, psutil.Process] = {}
    while proc.poll() is None:
        total = 0
        try:
            tree = [root] + root.children(recursive=True)
        except psutil.NoSuchProcess:
            break
        if engine.startswith("ray"):
            # Ray's workers are children of its raylet, which the driver starts: all in the tree.
            ray_procs.update({p.pid: p for p in tree})
        for p in tree:
            try:
                total += p.memory_info().rss
            except psutil.NoSuchProcess:
                pass
        peak = max(peak, total)
        time.sleep(0.05)
    stdout, stderr = proc.communicate()
    lines = [l for l in stdout.splitlines() if l.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"{engine} failed ({proc.returncode}): {stderr[-2000:]}")
    result = json.loads(lines[-1][7:])
    result["peak_rss_mb"] = round(peak / 2**20, 1)
    result["texts_per_s"] = round(result["rows"] / result["seconds"], 1)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("bundle", type=Path)
    parser.add_argument("--texts", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--engines", default=",".join(ENGINES))
    parser.add_argument("--chunk-size", type=int, default=2048, help="rows per chunk (stream) and per map_batches call (ray)")
    parser.add_argument("--short", action="store_true", help="only texts of at most 24 words (no abstracts or news bodies)")
    parser.add_argument("--scaling", default=None, help="comma-separated sizes: peak RSS of each engine at each size instead of throughput rounds")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "bulk_predict.json")
    args = parser.parse_args()
    engines = args.engines.split(",")
    work = Path(tempfile.mkdtemp(prefix="bulk-predict-"))
    report: dict = {"bundle": str(args.bundle), "engines": engines, "chunk_size": args.chunk_size, "short_texts": args.short}
    from edgeft_runtime.device import device_info

    report["device"] = device_info()
    if args.scaling:
        sizes = [int(s) for s in args.scaling.split(",")]
        texts = corpus(max(sizes), short=args.short)
        rows = {}
        for size in sizes:
            source = work / f"texts-{size}.txt"
            source.write_text("".join(t + "\n" for t in texts[:size]), encoding="utf-8")
            for engine in engines:
                r = run(engine, args.bundle, source, work / f"out-{engine}.jsonl", args.chunk_size)
                rows.setdefault(engine, {})[size] = r
                print(f"{engine:10s} {size:>7d} texts: peak RSS {r['peak_rss_mb']:7.1f} MB, {r['texts_per_s']:7.1f} texts/s", flush=True)
        for engine, by_size in rows.items():
            small, large = by_size[min(sizes)], by_size[max(sizes)]
            print(f"{engine}: peak RSS at {max(sizes)} / at {min(sizes)} = {large['peak_rss_mb'] / small['peak_rss_mb']:.3f}")
        report["scaling"] = rows
        out = args.out.with_name(args.out.stem + "_scaling.json")
    else:
        source = work / "texts.txt"
        source.write_text("".join(t + "\n" for t in corpus(args.texts, short=args.short)), encoding="utf-8")
        rounds = []
        for i in range(args.rounds):
            order = engines[i % len(engines):] + engines[: i % len(engines)]
            results = {}
            for engine in order:
                results[engine] = run(engine, args.bundle, source, work / f"out-{engine}.jsonl", args.chunk_size)
                r = results[engine]
                print(f"round {i + 1} {engine:10s} {r['texts_per_s']:8.1f} texts/s  peak RSS {r['peak_rss_mb']:7.1f} MB", flush=True)
            rounds.append(results)
        summary = {}
        for engine in engines:
            rates = [r[engine]["texts_per_s"] for r in rounds]
            summary[engine] = {
                "texts_per_s_median": statistics.median(rates),
                "texts_per_s_runs": rates,
                "peak_rss_mb_median": statistics.median(r[engine]["peak_rss_mb"] for r in rounds),
            }
            if "inprocess" in engines:
                ratios = [r[engine]["texts_per_s"] / r["inprocess"]["texts_per_s"] for r in rounds]
                summary[engine]["vs_inprocess_median"] = round(statistics.median(ratios), 3)
                summary[engine]["vs_inprocess_runs"] = [round(x, 3) for x in ratios]
            if engine.startswith("ray"):
                summary[engine]["ray_startup_s_median"] = round(statistics.median(r[engine]["startup_seconds"] for r in rounds), 1)
        report.update(texts=args.texts, rounds=rounds, summary=summary)
        print(f"\n{'engine':10s} {'texts/s':>9s} {'vs in-process':>14s} {'peak RSS MB':>12s}")
        for engine, s in summary.items():
            print(f"{engine:10s} {s['texts_per_s_median']:9.1f} {s.get('vs_inprocess_median', float('nan')):14.3f} {s['peak_rss_mb_median']:12.1f}")
        out = args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
