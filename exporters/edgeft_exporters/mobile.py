"""Artifacts for onnxruntime's mobile and minimal builds: the ORT-format model and the
required-operators config a reduced build is compiled from."""

from __future__ import annotations

import contextlib
import io
import logging
import shutil
import tempfile
from pathlib import Path

from .errors import ExportError

REQUIRED_OPERATORS_FILE = "required_operators.config"


def convert_to_ort(onnx_path: Path, out_dir: Path) -> tuple[Path, Path]:
    """Write ``<stem>.ort`` (runtime optimisations saved) and ``required_operators.config`` into ``out_dir``.

    "Runtime" optimisation style keeps the graph portable across execution providers (NNAPI,
    CoreML, CPU) and records the CPU-specific optimisations so the CPU provider can replay them.
    """
    from onnxruntime.tools.convert_onnx_models_to_ort import OptimizationStyle, convert_onnx_models_to_ort

    # The tools set their logger to INFO on import; their progress lines are noise here.
    logging.getLogger("ort_format_model.utils").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory(dir=out_dir, prefix=".ort-") as tmp:
        tmp_dir = Path(tmp)
        source = tmp_dir / onnx_path.name
        shutil.copyfile(onnx_path, source)
        converted = tmp_dir / "converted"
        try:
            with contextlib.redirect_stdout(io.StringIO()):  # the converter prints progress lines
                convert_onnx_models_to_ort(source, output_dir=converted, optimization_styles=[OptimizationStyle.Runtime])
        except Exception as e:  # the converter raises plain exceptions for unsupported graphs
            raise ExportError(f"{onnx_path.name}: conversion to ORT format failed ({str(e).splitlines()[0]})") from e
        models = sorted(converted.glob("*.ort"))
        configs = sorted(converted.glob("*.config"))
        if len(models) != 1 or len(configs) != 1:
            raise ExportError(f"{onnx_path.name}: ORT conversion wrote {len(models)} models and {len(configs)} configs, expected one each")
        ort_path = out_dir / f"{onnx_path.stem}.ort"
        config_path = out_dir / REQUIRED_OPERATORS_FILE
        shutil.move(models[0], ort_path)
        # The converter's header names its temporary files; name the bundle's file instead.
        lines = configs[0].read_text().splitlines()
        body = [line for line in lines if not line.startswith("#")]
        header = [f"# Operators needed by {ort_path.name} (and {onnx_path.name}); build onnxruntime with", "# --include_ops_by_config required_operators.config to ship only these."]
        config_path.write_text("\n".join(header + body) + "\n")
    return ort_path, config_path
