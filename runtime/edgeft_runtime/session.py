"""The one place an onnxruntime session is made: explicit providers, threads and options."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import onnxruntime as ort

from .constants import ENGINE_ONNXRUNTIME, ENGINE_OPENVINO
from .errors import BundleError
from .options import THREADS, check_value

DEFAULT_PROVIDERS = ("CPUExecutionProvider",)


def create_session(
    model_path: str | Path,
    *,
    threads: int | None = None,
    inter_op_threads: int | None = None,
    providers: Sequence[str] | None = None,
    spinning: bool | None = None,
    memory_arena: bool | None = None,
    engine: str = "onnxruntime",
    engine_options: dict | None = None,
) -> ort.InferenceSession:
    """Open ``model_path`` (``.onnx`` or ``.ort``) with explicit settings.

    threads: intra-op threads (None: onnxruntime's default, one per physical core).
    inter_op_threads: threads across independent graph nodes; only used with parallel execution.
    providers: execution providers in priority order (default: CPU only, so results do not
        depend on what else happens to be installed).
    spinning: let idle intra-op threads spin for new work (lower latency, more CPU burnt).
    memory_arena: keep freed activation buffers for reuse (faster repeated calls, higher RSS).
    engine / engine_options: a variant's engine (``"openvino"``: an ``OpenVinoSession`` with the
        same calls, ``engine_options["precision"]`` its inference precision); default onnxruntime.
    """
    check_value("threads", threads, THREADS)
    check_value("inter_op_threads", inter_op_threads, THREADS)
    if engine == ENGINE_OPENVINO:
        from .openvino_engine import OpenVinoSession

        return OpenVinoSession(Path(model_path), threads=threads, precision=(engine_options or {}).get("precision", "fp32"))  # type: ignore[return-value]
    if engine != ENGINE_ONNXRUNTIME:
        raise BundleError(f"{model_path}: engine {engine!r} is not one this runtime knows ({ENGINE_ONNXRUNTIME}, {ENGINE_OPENVINO}); upgrade edgeft-runtime")
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads is not None:
        options.intra_op_num_threads = int(threads)
    if inter_op_threads is not None:
        options.inter_op_num_threads = int(inter_op_threads)
        options.execution_mode = ort.ExecutionMode.ORT_PARALLEL
    if memory_arena is not None:
        options.enable_cpu_mem_arena = memory_arena
    if spinning is not None:
        options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
    if str(model_path).endswith(".ort"):
        # ORT-format bundles carry the CPU optimisations recorded at export; replay them. The file
        # was checked against the bundle's sha256 before it gets here.
        options.add_session_config_entry("session.enable_saved_runtime_optimizations", "1")
    options.log_severity_level = 3  # errors only: ORT's warnings about unused initializers are noise here
    try:
        return ort.InferenceSession(str(model_path), options, providers=list(providers or DEFAULT_PROVIDERS))
    except Exception as e:  # onnxruntime raises its own exception types for unreadable graphs
        first_line = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise BundleError(f"{model_path}: onnxruntime could not load it ({first_line}); re-export the bundle") from e
