"""Writing the bundle: baked tokenizer, manifest with file hashes, model card."""

from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path
from typing import Any

from edgeft_runtime.constants import (
    BUNDLE_FORMAT,
    MANIFEST_FILE,
    MODEL_CARD_FILE,
    REFERENCE_DIR,
    SCHEMA_VERSION,
    TASK_EMBEDDING,
    TASK_FILL_MASK,
    TASK_NER,
    TOKENIZER_FILE,
)
from edgeft_runtime.manifest import sha256_file
from edgeft_runtime.parity_record import gate_max_drop, output_difference

from .errors import ExportError


def bake_tokenizer(model_dir: Path, dst_dir: Path, *, max_length: int, fixed_length: int | None = None) -> Path:
    """Write ``tokenizer.json`` with truncation at ``max_length`` and padding settings baked in.

    Padding is to the longest row of each batch (no fixed length) unless the bundle has fixed
    shapes: some checkpoints' own tokenizer.json pads everything to 128, which would make every
    request pay for the full length.
    """
    from transformers import AutoTokenizer

    try:
        hf_tok = AutoTokenizer.from_pretrained(str(model_dir), use_fast=True)
    except (OSError, ValueError) as e:
        raise ExportError(f"{model_dir}: cannot load its tokenizer ({e})") from None
    if not getattr(hf_tok, "is_fast", False):
        raise ExportError(f"{model_dir}: the tokenizer has no fast (tokenizers) version; it cannot be bundled")
    tok = hf_tok.backend_tokenizer
    tok.enable_truncation(max_length=fixed_length or max_length)
    pad_id = hf_tok.pad_token_id if hf_tok.pad_token_id is not None else 0
    tok.enable_padding(pad_id=pad_id, pad_token=hf_tok.pad_token or "[PAD]", length=fixed_length)
    path = dst_dir / TOKENIZER_FILE
    tok.save(str(path))
    return path


def file_hashes(folder: Path) -> dict[str, dict[str, Any]]:
    """sha256 and size of every file in the bundle except the manifest itself."""
    entries = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        name = path.relative_to(folder).as_posix()
        if name == MANIFEST_FILE:
            continue
        entries[name] = {"sha256": sha256_file(path), "bytes": path.stat().st_size}
    return entries


def write_manifest(folder: Path, fields: dict[str, Any]) -> dict[str, Any]:
    """Stamp format, schema and creation time, hash every file, write ``edgeft.json``; return it."""
    manifest = {
        "format": BUNDLE_FORMAT,
        "schema_version": SCHEMA_VERSION,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "tokenizer": TOKENIZER_FILE,
        **fields,
    }
    manifest["files"] = file_hashes(folder)
    (folder / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return manifest


# The model card's usage lines for tasks whose method is not ``predict``: Python, then JavaScript.
USAGE = {
    TASK_NER: ('model.tag(["some text"])', "model.tag(['some text'])"),
    TASK_FILL_MASK: ('model.fill_mask("paris is the [MASK] of france.", top_k=5)', "model.fillMask('paris is the [MASK] of france.', { topK: 5 })"),
    TASK_EMBEDDING: ('model.embed(["some text", "another text"]) @ model.embed("a query")', "model.embed(['some text', 'another text'])"),
}
USAGE_PREDICT = ('model.predict(["some text"])', "model.predict(['some text'])")


def task_kind(manifest: dict[str, Any]) -> str:
    """What the card says after the task: the problem type, or an embedder's vectors."""
    if manifest["task"] == TASK_EMBEDDING:
        return f"{manifest.get('embedding_dim', '?')}-dimensional sentence vectors, {manifest.get('pooling') or '?'} pooling" + (", unit length" if manifest.get("normalize") else "")
    return str(manifest.get("problem_type", "n/a"))


def usage_section(task: str) -> list[str]:
    """The model card's "Use" section: the same call from Python, Node and a browser page, each
    with how to get that runtime (the runtimes are installed from an edgeft checkout)."""
    python, js = USAGE.get(task, USAGE_PREDICT)
    return [
        "## Use",
        "",
        "Python (`pip install ./runtime` from an edgeft checkout: numpy, onnxruntime and tokenizers, no torch):",
        "",
        "```python",
        "import edgeft_runtime",
        'model = edgeft_runtime.load("path/to/this/folder")',
        f"print({python})",
        "```",
        "",
        "Node (`npm pack ./runtime-js` in an edgeft checkout, then in your app "
        "`npm install /path/to/edgeft-runtime-0.1.0.tgz onnxruntime-node@1.30.0 --ignore-scripts`):",
        "",
        "```js",
        "import { load } from 'edgeft-runtime';",
        f"const model = await load('path/to/this/folder', {{ task: '{task}' }});",
        f"console.log(await {js});",
        "```",
        "",
        "Browser (the same tarball with `onnxruntime-web@1.30.0` through your bundler, or an import map as in "
        "edgeft's `examples/web/`; serve the page over https or from localhost, where WebCrypto checks the sha256):",
        "",
        "```js",
        "import { load } from 'edgeft-runtime';",
        f"const model = await load('https://example.com/models/this-folder/', {{ task: '{task}' }});  // or a .zip URL, or a File",
        f"console.log(await {js});",
        "```",
        "",
    ]


def _fmt(value: Any, digits: int = 2) -> str:
    return f"{value:.{digits}f}" if isinstance(value, (int, float)) else "—"


def base_chain_lines(bases: list[dict[str, Any]]) -> list[str]:
    """The runs the bundle's run was trained on top of, nearest first, as one line."""
    if not bases:
        return []
    steps = []
    for base in bases:
        labels = base.get("labels") or []
        shown = f"; labels {', '.join(map(str, labels[:8]))}{' …' if len(labels) > 8 else ''}" if labels else ""
        steps.append(f"`{base.get('run', '?')}` ({base.get('task', '?')}{shown})")
    return ["", f"Trained on top of: {' ← '.join(steps)} ← `{bases[-1].get('base_model', '?')}`."]


def mixed_precision_lines(name: str, record: dict[str, Any]) -> list[str]:
    """The model card's account of a mixed-precision variant: what left full int8, the drop, the speed."""
    if not record.get("found"):
        return []
    latency = record.get("latency_ms") or {}
    base = f"{(record.get('base') or {}).get('method', 'static')} int8"
    kept = f", {100 * record['speedup_retained']:.0f}% of full {base}'s speed-up over fp32" if "speedup_retained" in record else ""
    where = "; ".join(f"{kind}: {', '.join(record[key])}" for key, kind in (("float_groups", "in float"), ("dynamic_groups", "in dynamic int8")) if record.get(key))
    return [
        f"  - {name} mixed precision: full {base} lost {_fmt(record.get('full_int8_drop'))} points, so these groups left it ({where}); "
        f"this graph scored {_fmt(record.get('metric'))}. Batch-1 latency here: fp32 {_fmt(latency.get('fp32'))} ms, full {base} "
        f"{_fmt(latency.get('full_int8'))} ms, this graph {_fmt(latency.get('mixed'))} ms{kept} (search: {_fmt(record.get('seconds'))} s)"
    ]


def model_card(manifest: dict[str, Any]) -> str:
    """A README.md for the bundle: what it is, how it was checked, how to use it."""
    parity = manifest.get("parity") or {}
    metric = parity.get("metric", "metric")
    rows = [f"| PyTorch fp32 (reference) | {_fmt(parity.get('reference_metric'))} | — | — | {_fmt(parity.get('reference_latency_ms'))} |"]
    unit = "probability"
    for name, rep in (parity.get("variants") or {}).items():
        diff, unit = output_difference(manifest["task"], rep)
        rows.append(
            f"| ONNX {name} (`{manifest['variants'][name]['file']}`) | {_fmt(rep.get('metric'))} | "
            f"{_fmt(100 * rep['label_agreement'] if 'label_agreement' in rep else None)} | "
            f"{_fmt(diff, 6)} | {_fmt(rep.get('latency_ms'))} |"
        )
    int8 = [(name, spec) for name, spec in manifest["variants"].items() if spec.get("quantization")]
    labels = manifest.get("labels") or []
    source = manifest.get("source") or {}
    lines = [
        f"# edgeft bundle: {manifest['task']}",
        "",
        f"Made by edgeft {manifest.get('edgeft_version', '?')} from the run `{source.get('run', '?')}` "
        f"(base model `{source.get('base_model', '?')}`).",
        *base_chain_lines(source.get("bases") or []),
        "",
        f"- task: {manifest['task']} ({task_kind(manifest)})",
        *([f"- labels ({len(labels)}): {', '.join(map(str, labels[:50]))}{' …' if len(labels) > 50 else ''}"] if labels else []),
        f"- max length: {manifest['max_length']} tokens; inputs: {', '.join(manifest['inputs'])}",
        f"- default variant: {manifest.get('default_variant')}",
    ]
    for name, spec in int8:
        quant = spec["quantization"]
        suits = [rule["target"] for rule in spec.get("suits") or []]
        details = ", ".join(f"{key.replace('_', ' ')} {quant[key]}" for key in ("preset", "per_channel", "reduce_range") if key in quant)
        engine = f" run by {spec['engine']}" if spec.get("engine") else ""
        why = ((parity.get("variants") or {}).get(name) or {}).get("choice")
        lines.append(
            f"- {name}: {quant.get('method', 'dynamic')} int8 quantisation{engine}" + (f", {details}" if details else "")
            + (f"; for {', '.join(suits)} CPUs" if suits else "") + (f"; chosen because {why}" if why else "")
            + (f"; kept in float: {', '.join(quant['float_nodes'])}" if quant.get("float_nodes") else "")
            + (f"; in dynamic int8: {', '.join(quant['dynamic_nodes'])}" if quant.get("dynamic_nodes") else "")
        )
        lines += mixed_precision_lines(name, ((parity.get("variants") or {}).get(name) or {}).get("mixed_precision") or {})
    lines += [
        "",
        "## Parity check",
        "",
        f"Run on {parity.get('samples', '?')} held-out examples ({parity.get('data', '?')}) on the machine that "
        f"exported it ({parity.get('cpu', '?')}). Latency: median per text at batch 1.",
        "",
        f"| model | {metric} (points) | {'nearest-neighbour' if manifest['task'] == TASK_EMBEDDING else 'label'} agreement % | max abs diff ({unit}) | latency ms |",
        "|---|---|---|---|---|",
        *rows,
        "",
        *original_lines(parity, gate_max_drop(manifest)),
        *[
            f"- {name}: int8 gate {rep['gate']}"
            for name, rep in (parity.get("variants") or {}).items()
            if str(rep.get("gate", "")).startswith("not applied")
        ],
        "",
        *reference_section(manifest),
        *usage_section(manifest["task"]),
        "Files and their sha256 are listed in `edgeft.json`; the runtime verifies them on load.",
        "",
    ]
    return "\n".join(lines)


def original_lines(parity: dict[str, Any], max_drop: float | None) -> list[str]:
    """The model card's words on the run this bundle's model was derived from (a pruned vocabulary)."""
    original = parity.get("original")
    if not original:
        return []
    return [
        f"- vocabulary pruned to the tokens of {original.get('corpus', '?')}: {original.get('vocab_after', '?')} of "
        f"{original.get('vocab_before', '?')} tokens kept. Before pruning, PyTorch scored {_fmt(original.get('metric'))}; every "
        f"variant above was held to --max-drop {_fmt(max_drop, 1)} against that too.",
    ]


def reference_section(manifest: dict[str, Any]) -> list[str]:
    """The model card's words on the reference set: what it is, how to run it, and that it ships texts."""
    reference = manifest.get("reference")
    if not reference:
        return []
    return [
        "## Reference set (check on the device)",
        "",
        f"`{REFERENCE_DIR}/` holds {reference['samples']} held-out examples of {reference.get('data', '?')} with the "
        f"PyTorch original's answers (PyTorch {reference.get('metric', 'metric')} on them: "
        f"{_fmt(reference.get('reference_metric'))}). `python -m edgeft_runtime.check <bundle>` (or `edgeft check`) runs "
        "every variant on them on the device at hand, without torch, and fails when a variant loses more than "
        f"{_fmt(gate_max_drop(manifest), 1)} points.",
        "",
        "**Privacy:** these held-out texts ship with the bundle, so anyone who receives an app containing it can read "
        "them. Remove them with `edgeft bundle strip-reference <bundle>` (or export with `--reference-samples 0`) "
        "when the data must not leave your hands.",
        "",
    ]


def write_model_card(folder: Path, manifest: dict[str, Any]) -> None:
    (folder / MODEL_CARD_FILE).write_text(model_card(manifest), encoding="utf-8")
