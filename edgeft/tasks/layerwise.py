"""Layer-wise learning-rate decay: the task head at the full rate, each encoder layer below it a
factor slower (Howard & Ruder 2018; Clark et al. 2020 for ELECTRA). Lower layers hold the most
general features; small data sets damage them least when they move least."""

from __future__ import annotations

from typing import Any

from .freezing import model_parts


def layer_depths(model) -> dict[int, int]:
    """id(parameter) -> steps below the head: top encoder layer 1, bottom layer L, embeddings L + 1.
    Parameters not listed (the head, the pooler, anything outside the layers) train at the full rate."""
    parts = model_parts(model)
    depth = len(parts.layers)
    depths = {id(p): depth + 1 for p in parts.embeddings.parameters()}
    for index, layer in enumerate(parts.layers):
        for p in layer.parameters():
            depths[id(p)] = depth - index
    return depths


def layerwise_param_groups(model, *, lr: float, decay: float, weight_decay: float, decay_names: set[str]) -> list[dict[str, Any]]:
    """Optimizer parameter groups of the trainable parameters: one per (depth, weight decay or not),
    each with ``lr * decay ** depth``."""
    depths = layer_depths(model)
    groups: dict[tuple[int, bool], dict[str, Any]] = {}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        depth = depths.get(id(p), 0)
        decayed = name in decay_names
        group = groups.setdefault(
            (depth, decayed), {"params": [], "lr": lr * decay**depth, "weight_decay": weight_decay if decayed else 0.0}
        )
        group["params"].append(p)
    return [groups[key] for key in sorted(groups)]


def layerwise_trainer_class(decay: float, base=None):
    """A ``transformers.Trainer`` (or a subclass of ``base``) whose optimizer gives each layer its
    decayed learning rate."""
    from transformers import Trainer

    class LayerwiseLrTrainer(base or Trainer):  # type: ignore[misc,valid-type]
        def create_optimizer(self):
            if self.optimizer is None:
                groups = layerwise_param_groups(
                    self.model,
                    lr=self.args.learning_rate,
                    decay=decay,
                    weight_decay=self.args.weight_decay,
                    decay_names=set(self.get_decay_parameter_names(self.model)),
                )
                optimizer_cls, kwargs = Trainer.get_optimizer_cls_and_kwargs(self.args, self.model)
                self.optimizer = optimizer_cls(groups, **kwargs)
            return self.optimizer

    return LayerwiseLrTrainer
