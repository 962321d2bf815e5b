"""The README's device example runs as documented, with the runtime only."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "runtime" / "tests" / "fixtures" / "sentiment"


def test_device_app_prints_labels():
    proc = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "device_app.py"), str(FIXTURE), "good film", "awful plot"],
        capture_output=True, text=True, check=True,
    )
    lines = proc.stdout.strip().splitlines()
    assert [line.split("\t")[0] for line in lines] == ["pos", "neg"]
    assert [line.split("\t")[2] for line in lines] == ["good film", "awful plot"]
    assert "load" in proc.stderr and "(int8)" in proc.stderr
