"""``edgeft export --format transformers.js``: one folder that both edgeft and transformers.js open.

transformers.js (``@huggingface/transformers``) reads a model folder as ``config.json`` (model type,
labels), ``tokenizer.json`` with ``tokenizer_config.json``, and ``onnx/model.onnx`` (fp32),
``onnx/model_quantized.onnx`` (its ``dtype: 'q8'``, the default on wasm) or
``onnx/model_fp16.onnx`` (``dtype: 'fp16'``). Here the bundle's graphs are moved into those places
(the manifest names them there, so nothing is stored twice) and the two JSON files are added; the
manifest, hashes and parity report stay the bundle's own.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from .errors import ExportError

LAYOUT = "transformers.js"
LAYOUTS = ("edgeft", LAYOUT)
CONFIG_FILE = "config.json"
TOKENIZER_CONFIG_FILE = "tokenizer_config.json"
# transformers.js' file for each precision (its `dtype` option: fp32, q8, fp16).
FILE_OF_PRECISION = {"fp32": "onnx/model.onnx", "int8": "onnx/model_quantized.onnx", "fp16": "onnx/model_fp16.onnx"}
# The bundle tasks whose transformers.js pipeline reads the same graph outputs.
PIPELINE_OF_TASK = {"classifier": "text-classification", "ner": "token-classification", "fill-mask": "fill-mask"}


def check_layout(layout: str, task: str | None = None) -> None:
    if layout not in LAYOUTS:
        raise ExportError(f"--format {layout}: choose {' or '.join(LAYOUTS)}")
    if layout == LAYOUT and task is not None and task not in PIPELINE_OF_TASK:
        raise ExportError(f"--format {LAYOUT}: a {task} bundle has no transformers.js pipeline; export it with --format edgeft")


def _config(run_dir: Path, fields: dict[str, Any]) -> dict[str, Any]:
    """The run's config.json with the bundle's labels (transformers.js reads id2label from it)."""
    config = json.loads((run_dir / CONFIG_FILE).read_text(encoding="utf-8"))
    labels = fields.get("labels")
    if labels and fields.get("task") != "fill-mask":
        config["id2label"] = {str(i): label for i, label in enumerate(labels)}
        config["label2id"] = {label: i for i, label in enumerate(labels)}
    if fields.get("problem_type") == "multi_label":
        config["problem_type"] = "multi_label_classification"  # transformers.js then applies sigmoid
    return config


def _tokenizer_config(run_dir: Path, max_length: int) -> dict[str, Any]:
    """The run's tokenizer_config.json, cut to the bundle's length: transformers.js truncates at
    ``model_max_length`` (it ignores tokenizer.json's truncation section, as edgeft's JS runtime does)."""
    path = run_dir / TOKENIZER_CONFIG_FILE
    config = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    config["model_max_length"] = max_length
    return config


def write_transformers_js_layout(work: Path, run_dir: Path, fields: dict[str, Any]) -> dict[str, Any]:
    """Move the variants' graphs of the bundle in ``work`` to transformers.js' places, write its JSON
    files, and return the manifest's ``transformers_js`` field (fields' variant files are updated)."""
    check_layout(LAYOUT, fields.get("task"))
    placed: dict[str, str] = {}
    for name, spec in fields["variants"].items():
        target = FILE_OF_PRECISION.get(spec.get("precision", ""))
        if target is None or target in placed.values() or name != _first_of_precision(fields, spec["precision"]):
            continue  # one graph per precision: other int8 builds (per-CPU targets) keep their names
        (work / target).parent.mkdir(exist_ok=True)
        shutil.move(str(work / spec["file"]), str(work / target))
        spec["file"] = target
        placed[name] = target
    max_length = int(fields["max_length"])
    (work / CONFIG_FILE).write_text(json.dumps(_config(run_dir, fields), indent=2) + "\n", encoding="utf-8")
    (work / TOKENIZER_CONFIG_FILE).write_text(json.dumps(_tokenizer_config(run_dir, max_length), indent=2) + "\n", encoding="utf-8")
    return {
        "pipeline": PIPELINE_OF_TASK[fields["task"]],
        "config": CONFIG_FILE,
        "tokenizer_config": TOKENIZER_CONFIG_FILE,
        "dtypes": {_dtype(fields["variants"][name]["precision"]): file for name, file in placed.items()},
    }


def _first_of_precision(fields: dict[str, Any], precision: str) -> str:
    """The default variant when it has ``precision``, else the first variant that has it."""
    default = fields.get("default_variant")
    if default and fields["variants"].get(default, {}).get("precision") == precision:
        return default
    return next(n for n, s in fields["variants"].items() if s.get("precision") == precision)


def _dtype(precision: str) -> str:
    return {"int8": "q8"}.get(precision, precision)
