"""Which weights of a BERT-family model train: its parts (embeddings, encoder layers, task head),
freezing some of them, re-initialising the top layers, and counting parameters.

Frozen parameters get ``requires_grad = False``; the HF Trainer builds its optimizer from the
parameters that require gradients only, so frozen ones get neither gradients nor optimizer state.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from ..config import parse_freeze
from ..errors import ConfigError

log = logging.getLogger(__name__)

# Where BERT-family encoders keep their stack of layers, below ``model.base_model``.
LAYER_PATHS = ("encoder.layer", "transformer.layer", "encoder.layers", "layers")


@dataclass
class ModelParts:
    """The parts of a model that freezing and the layer-wise learning rate speak about."""

    embeddings: Any  # nn.Module
    layers: list[Any]  # the encoder layers, bottom first
    head: dict[str, Any]  # name (relative to the model) -> module: the task head and the pooler


def _get(module, dotted: str):
    for name in dotted.split("."):
        module = getattr(module, name, None)
        if module is None:
            return None
    return module


def unwrap(model):
    """The transformers model inside a peft wrapper (or the model itself)."""
    get_base = getattr(model, "get_base_model", None)
    return get_base() if callable(get_base) else model


def model_parts(model) -> ModelParts:
    """Embeddings, encoder layers and head of a transformers encoder with or without a task head
    (a bare encoder, e.g. a SetFit body, has no head but may have a pooler)."""
    import torch

    model = unwrap(model)
    base = getattr(model, "base_model", model)
    layers = next((m for path in LAYER_PATHS if isinstance(m := _get(base, path), torch.nn.ModuleList)), None)
    embeddings = getattr(base, "embeddings", None)
    if layers is None or embeddings is None:
        raise ConfigError(
            f"cannot find the embeddings and encoder layers of {type(model).__name__} "
            f"(looked for {', '.join(LAYER_PATHS)}); freezing and layer-wise options support BERT-family encoders"
        )
    head: dict[str, Any] = {}
    if base is not model:
        prefix = getattr(model, "base_model_prefix", "")
        head = {name: m for name, m in model.named_children() if name != prefix and any(True for _ in m.parameters())}
    pooler = getattr(base, "pooler", None)
    if pooler is not None and any(True for _ in pooler.parameters()):
        head["pooler"] = pooler
    return ModelParts(embeddings=embeddings, layers=list(layers), head=head)


def count_parameters(model) -> dict[str, int]:
    """Trainable and total parameters (each tensor counted once)."""
    seen: dict[int, Any] = {id(p): p for p in model.parameters()}
    total = sum(p.numel() for p in seen.values())
    trainable = sum(p.numel() for p in seen.values() if p.requires_grad)
    return {"trainable": trainable, "total": total}


def apply_freeze(model, spec: str) -> int:
    """Freeze what ``spec`` names (see ``TrainConfig.freeze``); return how many bottom encoder
    layers are frozen. ConfigError when the spec asks for more layers than the model has or would
    leave nothing to train."""
    kind, count = parse_freeze(spec)
    if kind == "none":
        return 0
    parts = model_parts(model)
    depth = len(parts.layers)
    if kind == "layers" and count > depth:
        raise ConfigError(f"config field freeze={spec!r}: the model has {depth} encoder layers; use layers:0 to layers:{depth}")
    if kind == "encoder":
        kept = {id(p) for module in parts.head.values() for p in module.parameters()}
        frozen = [p for p in unwrap(model).base_model.parameters() if id(p) not in kept]
        count = depth
    else:
        modules = [parts.embeddings] + (parts.layers[:count] if kind == "layers" else [])
        frozen = [p for m in modules for p in m.parameters()]
    for p in frozen:
        p.requires_grad_(False)
    if not any(p.requires_grad for p in model.parameters()):
        raise ConfigError(
            f"config field freeze={spec!r} freezes every parameter of {type(unwrap(model)).__name__}: nothing would train; "
            "freeze fewer layers (layers:N) or none"
        )
    return count


def reinit_top_layers(model, count: int, frozen_layers: int = 0) -> None:
    """Re-initialise the top ``count`` encoder layers and the pooler with the model's own
    initialiser (Zhang et al. 2021, "Revisiting few-sample BERT fine-tuning": the top layers of a
    pretrained encoder are specialised to its pretraining task and transfer worst)."""
    if count == 0:
        return
    model = unwrap(model)
    parts = model_parts(model)
    depth = len(parts.layers)
    if count > depth:
        raise ConfigError(f"config field reinit_top_layers={count}: the model has only {depth} encoder layers")
    if count > depth - frozen_layers:
        raise ConfigError(
            f"config field reinit_top_layers={count} re-initialises layers that freeze keeps frozen "
            f"(the bottom {frozen_layers} of {depth}): they would stay random; freeze fewer layers or re-initialise fewer"
        )
    init = getattr(model, "_init_weights", None)
    if init is None:
        raise ConfigError(f"reinit_top_layers: {type(model).__name__} has no weight initialiser")
    for layer in parts.layers[depth - count :]:
        layer.apply(init)
    pooler = parts.head.get("pooler")
    if pooler is not None:
        pooler.apply(init)
    log.info("re-initialised the top %d of %d encoder layers%s", count, depth, " and the pooler" if pooler is not None else "")
