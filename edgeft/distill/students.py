"""A student with fewer transformer layers, cut from a fine-tuned teacher.

The student keeps the teacher's architecture (same hidden size, heads, vocabulary), its
embeddings and its task head; its K layers start as copies of teacher layers at evenly spaced
depths from the bottom (DistilBERT's recipe: 0, 2, 4 of 6 for K = 3). Built from the teacher's
config with fewer layers and loaded with a mapped state dict in strict mode, so every student
weight is proven to come from the teacher and the result saves and reloads like any
``save_pretrained`` model.
"""

from __future__ import annotations

from typing import Any

from ..errors import ModelError

# Families whose layers differ by position (ModernBERT alternates local and global attention by
# layer index; ALBERT shares one layer across depths): a copied layer would change what it does.
POSITION_DEPENDENT_LAYERS = {"modernbert", "albert"}


def layer_map(teacher_layers: int, student_layers: int) -> list[int]:
    """The teacher layer each student layer starts from: evenly spaced from the bottom."""
    if not 1 <= student_layers < teacher_layers:
        raise ValueError(f"student layers must be in 1..{teacher_layers - 1}, got {student_layers}")
    return [i * teacher_layers // student_layers for i in range(student_layers)]


def hidden_state_pairs(teacher_layers: int, student_layers: int) -> list[tuple[int, int]]:
    """(student, teacher) indices into ``hidden_states`` (0 = embeddings) matched by the
    hidden-state loss: the output of student layer m copies the teacher's at depth m * N / K,
    so the last layers of both meet (TinyBERT's uniform mapping)."""
    return [(m, m * teacher_layers // student_layers) for m in range(1, student_layers + 1)]


def encoder_layers(model: Any, expected: int) -> str:
    """Dotted name of the ``ModuleList`` holding the model's ``expected`` transformer layers."""
    import torch

    found = [name for name, module in model.named_modules() if isinstance(module, torch.nn.ModuleList) and len(module) == expected]
    if len(found) != 1:
        kind = getattr(model.config, "model_type", type(model).__name__)
        raise ModelError(
            f"cannot find the {expected} transformer layers of this {kind} model (found {len(found)} candidate lists); "
            "distillation supports BERT-style encoders"
        )
    return found[0]


def teacher_layer_count(config: Any) -> int:
    count = getattr(config, "num_hidden_layers", None)
    if not isinstance(count, int) or count < 1:
        raise ModelError(f"the teacher's config has no num_hidden_layers (model type {getattr(config, 'model_type', '?')})")
    return count


def student_state_dict(teacher_state: dict[str, Any], layers_name: str, mapping: list[int]) -> dict[str, Any]:
    """The teacher's weights renamed for the student: layer ``mapping[j]`` becomes layer ``j``;
    every weight outside the layer list (embeddings, pooler, head) is kept as it is."""
    prefix = layers_name + "."
    out: dict[str, Any] = {}
    for key, value in teacher_state.items():
        if not key.startswith(prefix):
            out[key] = value.clone()
            continue
        index, rest = key[len(prefix) :].split(".", 1)
        for j, source in enumerate(mapping):
            if source == int(index):
                out[f"{prefix}{j}.{rest}"] = value.clone()
    return out


def shrink(teacher: Any, student_layers: int) -> tuple[Any, list[int]]:
    """A new model of the teacher's class with ``student_layers`` layers initialised from the
    teacher (evenly spaced), its embeddings and head copied; returns (student, layer map).
    The teacher is left untouched."""
    import copy

    config = teacher.config
    kind = getattr(config, "model_type", "")
    if kind in POSITION_DEPENDENT_LAYERS:
        raise ModelError(f"model type {kind!r}: its layers behave by position, so a student cannot reuse them; distil a BERT-style encoder")
    total = teacher_layer_count(config)
    mapping = layer_map(total, student_layers)
    name = encoder_layers(teacher, total)
    student_config = copy.deepcopy(config)
    student_config.num_hidden_layers = student_layers
    student = type(teacher)(student_config)
    state = student_state_dict(teacher.state_dict(), name, mapping)
    student.load_state_dict(state, strict=True)
    return student.to(next(teacher.parameters()).device), mapping
