"""Fail early, with the exact pip command, when the export extra is not installed."""

from __future__ import annotations

import importlib.util

from .errors import ExportError

EXPORT_MODULES = {"optimum.exporters.onnx": "optimum-onnx", "onnx": "onnx", "onnxruntime": "onnxruntime"}


def require_export_extra() -> None:
    missing = sorted({dist for module, dist in EXPORT_MODULES.items() if _missing(module)})
    if missing:
        raise ExportError(
            f"export needs {', '.join(missing)}, which are not installed: pip install 'edgeft[export]'"
        )


def _missing(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is None
    except ModuleNotFoundError:
        return True
