"""The export stage's task contract (edgeft_exporters.tasks.base.TaskExporter) is checked by the
type checker: an exporter that drops or changes a member fails here, not in a user's export."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_export_stage_type_checks():
    pytest.importorskip("mypy", reason="mypy is in the dev extra")
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-incremental", "exporters/edgeft_exporters"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
