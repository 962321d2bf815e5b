"""The run folder: what ``edgeft train`` writes and ``edgeft export`` reads, a versioned format.

A run is a ``save_pretrained`` folder (or a sentence-transformers folder, for SetFit) with four
files beside the weights: ``edgeft_run.json`` (what the run is: format and schema version, task,
labels, max length, base model, data, device, library versions), ``train_config.json`` (the
resolved training config), ``metrics.json`` (its eval metrics) and ``eval.jsonl`` (the held-out
data, for export's parity check). Training writes them with ``write_run``; the exporter,
distillation (its teacher), ``bench --reference`` and ``export --eval`` read them here.

This module is the format's one owner. It sits in the export package, the lower of the two floors
that use it: training (``edgeft``) imports the export stage, never the other way round, and the
versioned-JSON checks come from the floor below (``edgeft_runtime.versioned``, shared with the
bundle manifest and bench reports).
"""

from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path
from typing import Any, Sequence

from edgeft_runtime.versioned import JsonFormat, read_json, read_versioned

from .errors import ExportError

RUN_FILE = "edgeft_run.json"        # task, labels, problem type, max length, base model, versions
CONFIG_FILE = "train_config.json"   # the resolved training config
METRICS_FILE = "metrics.json"       # eval metrics of the trained model
EVAL_DATA_FILE = "eval.jsonl"       # the held-out data, normalised: {"text": ..., "labels": [...]}
CHECKPOINT_DIR = "checkpoints"      # trainer checkpoints while training (removed when complete)

RUN_FORMAT = "edgeft-run"
# MAJOR.MINOR: a newer minor only adds fields (readers ignore them); another major is refused.
RUN_SCHEMA_VERSION = "1.0"

# What read_run checks, and what its one-line errors tell the user to do.
_REMAKE = "the run folder is damaged or from an older edgeft; re-train"
RUN_JSON = JsonFormat(RUN_FORMAT, RUN_SCHEMA_VERSION, "an edgeft run file", "edgeft", "upgrade edgeft (pip install -U edgeft) to use this run", _REMAKE, ("task",))


def read_run(folder: str | Path) -> dict[str, Any]:
    """``edgeft_run.json`` of a run folder, its format and version checked; ExportError (one line
    naming the file) when the folder is not a finished run this edgeft can read."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ExportError(f"{folder}: no such run folder; pass the --out folder of `edgeft train`")
    path = folder / RUN_FILE
    if not path.is_file():
        raise ExportError(f"{folder}: not an edgeft run (no {RUN_FILE}); pass a folder written by `edgeft train`")
    return read_versioned(path, RUN_JSON, ExportError)


def read_run_config(folder: str | Path) -> dict[str, Any]:
    """The resolved training config saved with a run (empty when absent)."""
    path = Path(folder) / CONFIG_FILE
    if not path.is_file():
        return {}
    return read_json(path, RUN_JSON.remake, ExportError)


def read_run_metrics(folder: str | Path) -> dict[str, Any] | None:
    """The run's eval metrics (None when the run has none)."""
    path = Path(folder) / METRICS_FILE
    return read_json(path, RUN_JSON.remake, ExportError) if path.is_file() else None


def read_run_eval(folder: str | Path) -> list[dict[str, Any]]:
    """The held-out examples saved with the run (``eval.jsonl``); empty list when there are none."""
    path = Path(folder) / EVAL_DATA_FILE
    if not path.is_file():
        return []
    rows = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as e:
                    raise ExportError(f"{path}:{number}: not valid JSON ({e.msg}); the run folder is damaged") from None
    return rows


def write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def write_run_config(folder: Path, config: dict[str, Any]) -> None:
    """train_config.json: the resolved config, readable again with ``--config``."""
    (folder / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")


def record_choice(folder: Path, key: str, summary: dict[str, Any], metrics: dict[str, Any], config: dict[str, Any]) -> None:
    """After one of several runs became the run (``--seeds``, ``--search-trials``): its metrics with
    the summary, ``key: summary`` added to edgeft_run.json, and the config that trains it again."""
    write_json(folder / METRICS_FILE, metrics)
    run = read_run(folder)
    run[key] = summary
    write_json(folder / RUN_FILE, run)
    write_run_config(folder, config)


def write_run(
    folder: Path,
    *,
    task: str,
    info: dict[str, Any],
    versions: dict[str, str],
    config: dict[str, Any],
    metrics: dict[str, Any],
    eval_rows: Sequence[dict[str, Any]] = (),
) -> None:
    """Write edgeft_run.json (``info`` after the format fields; an ``info["versions"]`` replaces
    ``versions``), train_config.json, metrics.json and, when there are held-out rows, eval.jsonl."""
    run = {
        "format": RUN_FORMAT,
        "schema_version": RUN_SCHEMA_VERSION,
        "task": task,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "versions": versions,
        **info,
    }
    write_json(folder / RUN_FILE, run)
    write_run_config(folder, config)
    write_json(folder / METRICS_FILE, metrics)
    if eval_rows:
        with open(folder / EVAL_DATA_FILE, "w", encoding="utf-8") as f:
            for row in eval_rows:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
