"""Step 1: the PyTorch checkpoint -> ONNX through Optimum's exporter."""

from __future__ import annotations

import contextlib
import logging
import warnings
from pathlib import Path
from typing import Iterator

from .errors import ExportError

log = logging.getLogger(__name__)


@contextlib.contextmanager
def quiet_transformers_loading() -> Iterator[None]:
    """Silence transformers' notices while a run is reloaded for export: e.g. the base's pooler that
    edgeft keeps in masked-LM runs (for the classifiers trained from them) is unused by the
    masked-LM model, which transformers would report as unused weights."""
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)


def export_with_optimum(
    model_dir: Path,
    out_dir: Path,
    optimum_task: str,
    *,
    opset: int | None = None,
    static_shape: tuple[int, int] | None = None,
    library_name: str | None = None,
) -> Path:
    """Export ``model_dir`` for ``optimum_task`` (e.g. "text-classification"); return the .onnx path.

    static_shape: (batch, sequence) to export with fixed axes instead of dynamic ones.
    library_name: the library that loads the model ("transformers", "sentence_transformers");
        default: Optimum infers it from the folder.
    """
    from optimum.exporters.onnx import main_export

    shapes = {}
    if static_shape is not None:
        shapes = {"batch_size": static_shape[0], "sequence_length": static_shape[1]}
    try:
        with warnings.catch_warnings(), quiet_transformers_loading():
            warnings.simplefilter("ignore")  # tracer warnings about constants are expected for BERT
            main_export(
                str(model_dir),
                output=str(out_dir),
                task=optimum_task,
                opset=opset,
                do_validation=False,  # our parity gate validates on real data instead of random inputs
                no_dynamic_axes=static_shape is not None,
                local_files_only=True,
                library_name=library_name,
                **shapes,
            )
    except (ValueError, KeyError, OSError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ExportError(f"{model_dir}: Optimum could not export it for {optimum_task} ({first})") from e
    onnx_path = out_dir / "model.onnx"
    if not onnx_path.is_file():
        raise ExportError(f"{model_dir}: Optimum wrote no model.onnx into {out_dir}")
    return onnx_path
