"""A bundle variant run by OpenVINO instead of onnxruntime (``"engine": "openvino"`` in the manifest).

OpenVINO is optional (``pip install edgeft-runtime[openvino]``): this module is imported only when
such a variant is loaded, so ``import edgeft_runtime`` never imports openvino. ``OpenVinoSession``
answers the few calls ``BundleModel`` makes of an onnxruntime session (``get_inputs``,
``get_outputs``, ``run``), so every task class, the device check and the benchmark run it as is.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .errors import BundleError

ENGINE = "openvino"
INSTALL_HINT = "pip install 'edgeft-runtime[openvino]'"
# OpenVINO element types -> the onnxruntime type strings BundleModel reads.
_TYPES = {"i64": "tensor(int64)", "i32": "tensor(int32)", "f32": "tensor(float)", "f16": "tensor(float16)", "bf16": "tensor(bfloat16)"}
# A variant's ``engine_options`` -> OpenVINO properties. bf16 on a CPU with AMX/AVX-512 BF16 is
# OpenVINO's own default there; the variant says so explicitly, and f32 elsewhere.
_PRECISIONS = {"fp32": "f32", "bf16": "bf16", "fp16": "f16"}


@dataclass(frozen=True)
class _Arg:
    """An input or output as onnxruntime's NodeArg describes it (name, type string, shape)."""

    name: str
    type: str
    shape: list[Any]


def available() -> bool:
    """Whether openvino is installed (found without importing it)."""
    import importlib.util

    return importlib.util.find_spec("openvino") is not None


class OpenVinoSession:
    """An OpenVINO compiled model behind the onnxruntime session calls the runtime uses.

    One infer request per thread: a compiled model may be shared across threads, a request not.
    """

    def __init__(self, model_path: Path, *, threads: int | None = None, precision: str = "fp32", spinning: bool | None = None):
        if not available():
            raise BundleError(f"{model_path}: this variant runs on OpenVINO, which is not installed; {INSTALL_HINT}, or load another variant")
        import openvino as ov

        config: dict[str, Any] = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": _PRECISIONS.get(precision, "f32")}
        if threads is not None:
            config["INFERENCE_NUM_THREADS"] = int(threads)
        try:
            self._compiled = ov.Core().compile_model(str(model_path), "CPU", config)
        except Exception as e:  # OpenVINO raises RuntimeError subclasses of its own for unreadable models
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise BundleError(f"{model_path}: OpenVINO could not load it ({first}); re-export the bundle") from e
        self._inputs = [self._arg(port) for port in self._compiled.inputs]
        self._outputs = [self._arg(port) for port in self._compiled.outputs]
        self._local = threading.local()
        self.precision = precision

    @staticmethod
    def _arg(port: Any) -> _Arg:
        shape = [d.get_length() if d.is_static else None for d in port.get_partial_shape()]
        return _Arg(port.get_any_name(), _TYPES.get(port.get_element_type().get_type_name(), "tensor(unknown)"), shape)

    def get_inputs(self) -> list[_Arg]:
        return list(self._inputs)

    def get_outputs(self) -> list[_Arg]:
        return list(self._outputs)

    def get_providers(self) -> list[str]:
        return ["OpenVINO CPU"]

    def run(self, output_names: Sequence[str] | None, feeds: dict[str, np.ndarray], run_options: Any = None) -> list[np.ndarray]:
        request = getattr(self._local, "request", None)
        if request is None:
            request = self._local.request = self._compiled.create_infer_request()
        results = request.infer(feeds)
        by_name = {port.get_any_name(): value for port, value in results.items()}
        names = list(output_names) if output_names else [o.name for o in self._outputs]
        return [np.array(by_name[name], copy=True) for name in names]
