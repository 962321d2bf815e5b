"""Sentence embeddings (issue 31 point 3) on real data: what unsupervised SimCSE on a task's own
texts does to all-MiniLM-L6-v2, and what int8 export does to the vectors.

Reads a finished `edgeft train embedding` run and its `edgeft export --int8` bundle (the commands
are in benchmarks/RESULTS.md) and writes one JSON file:

- the run's collapse check (metrics.json) and the bundle's parity record (cosine to PyTorch's
  vectors: mean, min, median, nearest-neighbour agreement, per variant);
- a linear probe on SST-2 (logistic regression on the vectors of the first N training sentences,
  accuracy on the 872 dev sentences) for the base model, the SimCSE run in PyTorch and each bundle
  variant: a downstream figure the gate's cosine does not give, on labels SimCSE never saw.

    python benchmarks/embedding_simcse.py RUN BUNDLE --out benchmarks/results/embedding_simcse_sst2.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "sst2"


def sst2(split: str, limit: int | None = None) -> tuple[list[str], np.ndarray]:
    rows = [line.split(" ", 1) for line in (DATA / f"{split}.txt").read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = rows[:limit] if limit else rows
    return [text for _, text in rows], np.array([int(label) for label, _ in rows])


def probe(train: np.ndarray, y_train: np.ndarray, dev: np.ndarray, y_dev: np.ndarray) -> float:
    """Dev accuracy (points) of a logistic regression on the vectors (scikit-learn defaults, seed 0)."""
    from sklearn.linear_model import LogisticRegression

    head = LogisticRegression(max_iter=1000, random_state=0).fit(train, y_train)
    return round(100 * float(np.mean(head.predict(dev) == y_dev)), 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("bundle", type=Path)
    parser.add_argument("--train-texts", type=int, default=2000, help="SST-2 training sentences the probe fits on")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    from sentence_transformers import SentenceTransformer

    import edgeft_runtime
    from edgeft.base_models import default_base_path

    train_texts, y_train = sst2("train", args.train_texts)
    dev_texts, y_dev = sst2("dev")
    probes, seconds = {}, {}
    for name, folder in (("base all-MiniLM-L6-v2 (PyTorch)", default_base_path()), ("SimCSE run (PyTorch)", str(args.run))):
        started = time.perf_counter()
        model = SentenceTransformer(folder, device="cpu", local_files_only=True)
        model.max_seq_length = 64
        vectors = [model.encode(t, batch_size=64, normalize_embeddings=True, show_progress_bar=False) for t in (train_texts, dev_texts)]
        probes[name] = probe(vectors[0], y_train, vectors[1], y_dev)
        seconds[name] = round(time.perf_counter() - started, 1)
    manifest = json.loads((args.bundle / "edgeft.json").read_text(encoding="utf-8"))
    for variant in manifest["variants"]:
        started = time.perf_counter()
        model = edgeft_runtime.load(args.bundle, variant=variant)
        probes[f"bundle {variant}"] = probe(model.embed(train_texts), y_train, model.embed(dev_texts), y_dev)
        seconds[f"bundle {variant}"] = round(time.perf_counter() - started, 1)
    parity = manifest["parity"]
    result = {
        "what": "SimCSE run's collapse check, its bundle's parity against PyTorch, and an SST-2 linear probe (dev accuracy)",
        "run": str(args.run),
        "bundle": str(args.bundle),
        "run_metrics": json.loads((args.run / "metrics.json").read_text(encoding="utf-8")),
        "run_config": {k: v for k, v in json.loads((args.run / "train_config.json").read_text(encoding="utf-8")).items() if k in ("corpus", "eval", "epochs", "batch_size", "lr", "max_length", "seed", "scale")},
        "train_seconds": json.loads((args.run / "edgeft_run.json").read_text(encoding="utf-8")).get("train_seconds"),
        "parity": {
            "samples": parity["samples"], "data": parity["data"], "reference_latency_ms": parity["reference_latency_ms"], "max_drop": parity["max_drop"],
            "variants": {k: {**v["scores"], "max_cosine_distance": v.get("max_cosine_distance"), "latency_ms": v["latency_ms"], "choice": v.get("choice")} for k, v in parity["variants"].items()},
        },
        "probe": {"train_texts": len(train_texts), "dev_texts": len(dev_texts), "dev_accuracy": probes, "seconds": seconds},
        "machine": {"cpu": parity.get("cpu"), "cores": os.cpu_count(), "python": platform.python_version()},
        "load_average_at_end": subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip(),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result["probe"], indent=2))


if __name__ == "__main__":
    main()
