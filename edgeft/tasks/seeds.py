"""``--seeds 1,2,3``: one run per seed, the mean and spread of the eval metric, the best run kept.

Fine-tuning on small data varies with the seed by several points (Dodge et al. 2020); one run
cannot tell a better option from a lucky seed. Each seed trains into its own folder inside the
output's staging folder (``.OUT.partial/seed-runs/seed-N``), so ``--resume`` keeps the finished
seeds and continues the interrupted one from its checkpoint; at the end the best run's files
become the output and every run's metrics go into its ``metrics.json``.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import statistics
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgeft_exporters.run_folder import RUN_FILE, read_run_metrics, record_choice
from edgeft_exporters.staging import StagedDir, partial_path

from ..config import TrainConfig
from ..errors import ConfigError
from .common import TrainResult, last_checkpoint

if TYPE_CHECKING:
    from . import TaskSpec

log = logging.getLogger(__name__)

SEED_RUNS_DIR = "seed-runs"


def summarise(runs: list[tuple[int, dict[str, Any]]], metric: str) -> dict[str, Any]:
    """Mean, sample standard deviation, range and best seed of ``metric`` over the runs (higher is better)."""
    values = [float(m[metric]) for _, m in runs]
    best = max(range(len(runs)), key=lambda i: values[i])
    return {
        "metric": metric,
        "seeds": [seed for seed, _ in runs],
        "mean": statistics.fmean(values),
        "sd": statistics.stdev(values) if len(values) > 1 else 0.0,
        "min": min(values),
        "max": max(values),
        "best_seed": runs[best][0],
        "runs": [{"seed": seed, **metrics} for seed, metrics in runs],
    }


def main_process() -> bool:
    """False in the other processes of a distributed launch (torchrun, accelerate launch): they
    train every seed with the main one, which alone writes and summarises the runs."""
    return os.environ.get("RANK", "0") == "0"


def train_seed(spec: TaskSpec, config: TrainConfig, seed: int, folder: Path, resume: bool, **kwargs: Any) -> dict[str, Any]:
    """Train (or, with ``resume``, reuse or continue) the run of one seed; return its metrics
    (empty in the other processes of a distributed launch)."""
    if resume and (folder / RUN_FILE).is_file():
        log.info("seed %d: kept from the interrupted run (%s)", seed, folder)
        return (read_run_metrics(folder) or {}) if main_process() else {}
    continue_from = resume and last_checkpoint(partial_path(folder)) is not None
    seed_config = dataclasses.replace(config, seed=seed, seeds=[], out=str(folder))
    return spec.train(seed_config, overwrite=True, resume=continue_from, **kwargs).metrics


def train_seeds(spec: TaskSpec, config: TrainConfig, *, overwrite: bool = False, resume: bool = False, **kwargs: Any) -> TrainResult:
    """Train ``spec`` once per seed of ``config.seeds``; write the best run to ``config.out`` with
    every run's metrics and their mean and spread in ``metrics.json`` (and the summary in
    ``edgeft_run.json``)."""
    if spec.headline is None:
        raise ConfigError(f"--seeds is not supported for {spec.name} runs")
    config.require_io()
    metric = spec.headline(config)
    started = time.perf_counter()
    stage = StagedDir(config.out, overwrite=overwrite, keep_partial=True, resume=resume)
    stage.check()
    with stage as work:
        runs: list[tuple[int, dict[str, Any]]] = []
        for n, seed in enumerate(config.seeds, start=1):
            log.info("seed %d (%d of %d)", seed, n, len(config.seeds))
            metrics = train_seed(spec, config, seed, work / SEED_RUNS_DIR / f"seed-{seed}", resume, **kwargs)
            if main_process():
                runs.append((seed, metrics))
                log.info("seed %d: %s %.4f", seed, metric, metrics[metric])
        if not main_process():
            return TrainResult(Path(config.out), {}, time.perf_counter() - started, main_process=False)
        summary = summarise(runs, metric)
        best = work / SEED_RUNS_DIR / f"seed-{summary['best_seed']}"
        for item in best.iterdir():
            os.replace(item, work / item.name)
        shutil.rmtree(work / SEED_RUNS_DIR)
        metrics = {**dict(runs)[summary["best_seed"]], "seeds": summary}
        record_choice(work, "seeds", {k: v for k, v in summary.items() if k != "runs"}, metrics, config.to_dict())
        stage.commit()
    return TrainResult(Path(config.out), metrics, time.perf_counter() - started)
