"""The type checker holds the export stage's task contract (edgeft_exporters.tasks.base.TaskExporter:
an exporter that drops or changes a member fails here, not in a user's export) and the runtime's
annotations (the package apps embed, read by people who never see edgeft's training side)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("package", ["exporters/edgeft_exporters", "runtime/edgeft_runtime"])
def test_package_type_checks(package):
    pytest.importorskip("mypy", reason="mypy is in the dev extra")
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-incremental", package],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
