"""Fail early, with the exact pip command, when an optional extra is not installed."""

from __future__ import annotations

import importlib.util

from .errors import ExportError

EXPORT_MODULES = {"optimum.exporters.onnx": "optimum-onnx", "onnx": "onnx", "onnxruntime": "onnxruntime"}
# What reading a SetFit run (its body and scikit-learn head) needs.
SETFIT_MODULES = {"setfit": "setfit", "sentence_transformers": "sentence-transformers", "sklearn": "scikit-learn"}
# What training with LoRA adapters (and merging an adapter-only run) needs.
PEFT_MODULES = {"peft": "peft"}


def missing_distributions(modules: dict[str, str]) -> list[str]:
    """The distributions (sorted) whose module in ``modules`` (module -> distribution) cannot be imported."""
    return sorted({dist for module, dist in modules.items() if _missing(module)})


def require_export_extra() -> None:
    missing = missing_distributions(EXPORT_MODULES)
    if missing:
        raise ExportError(
            f"export needs {', '.join(missing)}, which are not installed: pip install 'edgeft[export]'"
        )


def require_setfit_extra() -> None:
    missing = missing_distributions(SETFIT_MODULES)
    if missing:
        raise ExportError(
            f"exporting a SetFit run needs {', '.join(missing)}, which are not installed: pip install 'edgeft[setfit]'"
        )


def require_peft_extra() -> None:
    missing = missing_distributions(PEFT_MODULES)
    if missing:
        raise ExportError(
            f"this run keeps only a LoRA adapter, and merging it needs {', '.join(missing)}, which is not installed: "
            "pip install 'edgeft[peft]'"
        )


def _missing(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is None
    except ModuleNotFoundError:
        return True
