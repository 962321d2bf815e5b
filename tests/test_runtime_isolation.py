"""edgeft_runtime never imports torch, transformers or optimum (nor ray, pyarrow or the service's
Starlette and uvicorn until asked): proven in a fresh interpreter."""

from __future__ import annotations

import json
import subprocess
import sys

SCRIPT = """
import json, sys
import edgeft_runtime
import edgeft_runtime.integrations.ray  # optional engines load on use, not on import
import edgeft_runtime.serve  # the service's web stack loads when it runs, not on import
model = edgeft_runtime.load(sys.argv[1])
result = model.predict(["the film was good", "awful"])
heavy = sorted(
    m for m in sys.modules
    if m.split(".")[0] in ("torch", "transformers", "optimum", "onnx", "edgeft", "edgeft_exporters", "ray", "pyarrow", "starlette", "uvicorn")
)
print(json.dumps({"heavy": heavy, "n": len(result)}))
"""


def test_load_and_predict_import_no_heavy_modules(tiny_bundle):
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(tiny_bundle)], capture_output=True, text=True, check=True)
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report == {"heavy": [], "n": 2}


def test_cli_help_does_not_import_torch():
    code = "import sys; from edgeft.cli import app; print(any(m.split('.')[0] in ('torch', 'transformers', 'optimum') for m in sys.modules))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "False"


def test_task_registry_holds_functions_and_imports_no_torch():
    """The registry references its functions directly; the task modules import torch only when training."""
    code = (
        "import sys, json; from edgeft.tasks import get_task, task_names\n"
        "specs = [get_task(n) for n in task_names()]\n"
        "print(json.dumps({'callable': all(callable(s.train) and callable(s.read_eval_rows) for s in specs),"
        " 'heavy': sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'transformers', 'optimum', 'setfit'))}))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == {"callable": True, "heavy": []}
