"""What the issue-31 measurements share: `edgeft` commands as a user runs them, data subsets,
scores of a run, the machine record, summaries over seeds.

Each training is the `edgeft` CLI in its own process (``python -m edgeft train ...``) under
``nice -n 19`` with 2 torch threads; a run folder that is already complete (its metrics.json
written) is reused, so a stopped pass continues where it stopped.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from shared_data import SST2_LABELS, read_label_text, require, write_csv  # noqa: E402

WORK = ROOT / "models" / "bench-31"


def environment() -> dict[str, str]:
    env = dict(os.environ, HF_HUB_OFFLINE="1", OMP_NUM_THREADS="2", TOKENIZERS_PARALLELISM="false")
    paths = [str(ROOT), str(ROOT / "runtime"), str(ROOT / "exporters")]
    env["PYTHONPATH"] = os.pathsep.join(paths + [p for p in [os.environ.get("PYTHONPATH")] if p])
    return env


def edgeft(*args: str, log: Path | None = None) -> float:
    """Run ``edgeft ARGS`` (niced, 2 threads); seconds of wall clock. A failure stops the benchmark."""
    command = ["nice", "-n", "19", sys.executable, "-m", "edgeft", *args]
    started = time.perf_counter()
    with open(log or os.devnull, "a") as out:
        print("$ edgeft " + " ".join(args), flush=True)
        done = subprocess.run(command, env=environment(), stdout=out, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        sys.exit(f"error: `edgeft {' '.join(args)}` failed (exit {done.returncode}); its output is in {log}")
    return round(time.perf_counter() - started, 1)


def train(task: str, out: Path, *args: str) -> tuple[dict, float | None]:
    """(metrics.json, wall-clock seconds) of `edgeft train TASK ... --out OUT`; a finished run is
    reused with the seconds it took then (kept beside it)."""
    metrics, timing = out / "metrics.json", out.parent / f"{out.name}.seconds"
    if metrics.exists() and (out / "edgeft_run.json").exists():
        return json.loads(metrics.read_text()), float(timing.read_text()) if timing.exists() else None
    out.parent.mkdir(parents=True, exist_ok=True)
    seconds = edgeft("train", task, *args, "--out", str(out), "--overwrite", log=out.parent / f"{out.name}.log")
    timing.write_text(f"{seconds}\n")
    return json.loads(metrics.read_text()), seconds


def sst2_rows(split: str) -> list[tuple[str, str]]:
    return read_label_text(require("sst2") / f"{split}.txt", SST2_LABELS)


def sample(rows: list, k: int, seed: int = 0) -> list:
    rows = list(rows)
    random.Random(seed).shuffle(rows)
    return rows[:k]


def sst2_files(train_size: int, dev_size: int, test_size: int) -> dict:
    """SST-2 subsets (seed 0): labelled train, dev (eval: early stopping, choices), test (reported),
    and the rest of the train split's texts without labels (the unlabelled corpus for TAPT)."""
    train_rows = sample(sst2_rows("train"), 10**9)
    folder = WORK / "data"
    return {
        "train": write_csv(folder / f"sst2_train_{train_size}.csv", train_rows[:train_size]),
        "dev": write_csv(folder / f"sst2_dev_{dev_size}.csv", sample(sst2_rows("dev"), dev_size)),
        "test_rows": sample(sst2_rows("test"), test_size),
        "unlabelled": [text for text, _ in train_rows],
    }


def accuracy(run: Path, rows: list[tuple[str, str]]) -> float:
    """Accuracy (%) of a classifier run's PyTorch model (the engine of `edgeft bench --reference`)."""
    from edgeft.bench.pytorch_reference import load_reference

    predict = load_reference(run, 2)[0]
    labels = json.loads((run / "edgeft_run.json").read_text())["labels"]
    correct = 0
    for start in range(0, len(rows), 64):
        chunk = rows[start : start + 64]
        probs = predict([text for text, _ in chunk])
        correct += sum(labels[int(p)] == gold for p, (_, gold) in zip(probs.argmax(-1), chunk))
    return round(100 * correct / len(rows), 2)


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def machine() -> dict:
    flags = ""
    try:
        flags = next(line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("flags"))
    except (OSError, StopIteration):
        pass
    return {
        "cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
        "avx512_vnni": "avx512_vnni" in flags, "avx512_bf16": "avx512_bf16" in flags, "amx": "amx_tile" in flags,
        "python": platform.python_version(), "load_average_at_start": load(),
        "note": "training under nice -n 19, 2 torch threads, beside other jobs on the 2 cores",
    }


def new_result(name: str, path: Path, seeds: list[int], **fields) -> dict:
    """A results record; the records of other seeds in an earlier file of the same settings are
    kept (a pass per seed adds to it), with that pass's command, date and load."""
    result = {"benchmark": name, "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "command": " ".join(["python"] + sys.argv), "machine": machine(), **fields, "records": []}
    if path.exists():
        earlier = json.loads(path.read_text())
        if all(earlier.get(key) == value for key, value in fields.items() if key not in ("pretraining",)):
            result["records"] = [r for r in earlier.get("records", []) if r["seed"] not in seeds]
            result["earlier_passes"] = earlier.get("earlier_passes", []) + [{k: earlier.get(k) for k in ("date", "command", "machine")}]
    return result


def mean_sd(values: list[float]) -> dict:
    return {"mean": round(statistics.fmean(values), 2), "sd": round(statistics.stdev(values), 2) if len(values) > 1 else 0.0, "n": len(values)}


def summarise(result: dict, metric: str, extra: tuple[str, ...] = ("seconds",)) -> None:
    """Per row: mean ± sd of the metric (and of extra fields) over seeds; written after every seed."""
    rows: dict[str, list[dict]] = {}
    for record in result["records"]:
        rows.setdefault(record["row"], []).append(record)
    result["summary"] = {
        row: {"seeds": [r["seed"] for r in records], metric: mean_sd([r[metric] for r in records]),
              **{key: mean_sd([r[key] for r in records if r.get(key) is not None]) for key in extra if any(r.get(key) is not None for r in records)}}
        for row, records in rows.items()
    }


def save(result: dict, path: Path) -> None:
    result["machine"]["load_average_now"] = load()
    result["machine"]["finished_or_last_write"] = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=1) + "\n")
