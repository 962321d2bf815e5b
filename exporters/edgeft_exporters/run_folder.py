"""Reading a finished training run (the folder ``edgeft train`` writes)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .constants import EVAL_DATA_FILE, RUN_FILE
from .errors import ExportError


def read_run(folder: str | Path) -> dict[str, Any]:
    """``edgeft_run.json`` of a run folder; ExportError when the folder is not a finished run."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ExportError(f"{folder}: no such run folder; pass the --out folder of `edgeft train`")
    path = folder / RUN_FILE
    if not path.is_file():
        raise ExportError(f"{folder}: not an edgeft run (no {RUN_FILE}); pass a folder written by `edgeft train`")
    try:
        run = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ExportError(f"{path}: not valid JSON ({e}); the run folder is damaged, re-train") from None
    if not isinstance(run, dict) or "task" not in run:
        raise ExportError(f"{path}: no 'task' field; the run folder is damaged, re-train")
    return run


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
