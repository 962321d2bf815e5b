"""A hyperparameter search against the default recipe on a small target set (issue 31 point 4).

    python benchmarks/search_vs_defaults.py [--train-size 400] [--trials 8] [--seeds 1,2,3]
        [--max-length 64] [--out benchmarks/results/search_vs_defaults.json]

SST-2 (../shared/data/sst2): ``--train-size`` training sentences sampled once (seed 0) from its
train split, the dev split (872) as the eval data that early stopping and the search choose on,
and the test split (1821), never seen by either, for the figures reported. Per seed: the default
recipe (``edgeft train classifier`` with its defaults) and ``--search-trials N`` over the default
ranges, both on the offline MiniLM; test accuracy of each kept run (its PyTorch model), dev
accuracy, wall-clock seconds. Results are rewritten after every seed, with machine, load and date.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from shared_data import SST2_LABELS, read_label_text, require, write_csv  # noqa: E402


def sst2_split(split: str) -> list[tuple[str, str]]:
    return read_label_text(require("sst2") / f"{split}.txt", SST2_LABELS)


def test_accuracy(run: Path, rows: list[tuple[str, str]]) -> float:
    from edgeft.bench.pytorch_reference import load_reference

    predict = load_reference(run, 1)[0]
    labels = json.loads((run / "edgeft_run.json").read_text())["labels"]
    correct = 0
    for start in range(0, len(rows), 64):
        chunk = rows[start : start + 64]
        probs = predict([text for text, _ in chunk])
        correct += sum(labels[int(p)] == gold for p, (_, gold) in zip(probs.argmax(-1), chunk))
    return correct / len(rows)


def one(kind: str, seed: int, files: dict[str, Path], args, work: Path, test_rows) -> dict:
    from edgeft.config import ClassifierConfig
    from edgeft.tasks import train_task

    out = work / f"{kind}-{seed}"
    config = ClassifierConfig(
        train=str(files["train"]), eval=str(files["dev"]), out=str(out), seed=seed, max_length=args.max_length,
        logging_steps=1000, search_trials=args.trials if kind == "search" else 0,
    )
    started = time.perf_counter()
    result = train_task("classifier", config, overwrite=True)
    seconds = time.perf_counter() - started
    record = {"kind": kind, "seed": seed, "dev_accuracy": result.metrics["accuracy"], "test_accuracy": test_accuracy(out, test_rows), "seconds": round(seconds, 1)}
    if kind == "search":
        record["best_params"] = result.metrics["search"]["best_params"]
        record["pruned"] = result.metrics["search"]["pruned"]
    print(json.dumps(record), flush=True)
    return record


def summary(records: list[dict]) -> dict:
    out = {}
    for kind in ("defaults", "search"):
        rows = [r for r in records if r["kind"] == kind]
        if rows:
            test = [100 * r["test_accuracy"] for r in rows]
            out[kind] = {
                "seeds": [r["seed"] for r in rows], "test_accuracy_mean": round(statistics.fmean(test), 2),
                "test_accuracy_sd": round(statistics.stdev(test), 2) if len(test) > 1 else 0.0,
                "dev_accuracy_mean": round(100 * statistics.fmean(r["dev_accuracy"] for r in rows), 2),
                "seconds_mean": round(statistics.fmean(r["seconds"] for r in rows), 1),
            }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train-size", type=int, default=400)
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "search_vs_defaults.json"))
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    train_rows = sst2_split("train")
    random.Random(0).shuffle(train_rows)
    test_rows = sst2_split("test")
    with tempfile.TemporaryDirectory(prefix="search-bench-") as tmp:
        work = Path(tmp)
        files = {"train": write_csv(work / "train.csv", train_rows[: args.train_size]), "dev": write_csv(work / "dev.csv", sst2_split("dev"))}
        result = {
            "benchmark": "search_vs_defaults", "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "machine": {"cpu": os.uname().machine, "cores": os.cpu_count(), "load_average_at_start": [round(x, 2) for x in os.getloadavg()]},
            "data": f"SST-2: {args.train_size} train sentences (sampled, seed 0), dev 872 (eval: early stopping and the search's choice), test 1821 (reported)",
            "base": "all-MiniLM-L6-v2 (offline)", "max_length": args.max_length, "trials": args.trials, "records": [],
        }
        for seed in [int(s) for s in args.seeds.split(",")]:
            for kind in ("defaults", "search"):
                result["records"].append(one(kind, seed, files, args, work, test_rows))
                result["summary"] = summary(result["records"])
                result["machine"]["load_average_now"] = [round(x, 2) for x in os.getloadavg()]
                Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result["summary"], indent=1))


if __name__ == "__main__":
    main()
