"""What a Trainer-based task does to its model before training (re-initialise, freeze, wrap in
LoRA) and how it saves it after, in one place so every task applies the options alike."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import TrainConfig
from .freezing import apply_freeze, count_parameters, reinit_top_layers

log = logging.getLogger(__name__)


@dataclass
class PreparedModel:
    """The model to hand to the Trainer and what edgeft_run.json records about its training."""

    model: Any
    lora: bool
    info: dict[str, Any] = field(default_factory=dict)


def prepare_model(model, config: TrainConfig, task: str) -> PreparedModel:
    """Apply ``reinit_top_layers``, ``freeze`` and ``peft`` to a freshly loaded model."""
    frozen_layers = apply_freeze(model, config.freeze)
    reinit_top_layers(model, config.reinit_top_layers, frozen_layers)
    lora = config.peft == "lora"
    if lora:
        from .lora import apply_lora

        model = apply_lora(model, config, task)
    params = count_parameters(model)
    log.info(
        "training %s of %s parameters (%.2f%%)", f"{params['trainable']:,}", f"{params['total']:,}", 100 * params["trainable"] / params["total"]
    )
    info: dict[str, Any] = {
        "parameters": params,
        "tuning": {
            "freeze": config.freeze,
            "frozen_layers": frozen_layers,
            "peft": config.peft,
            "layerwise_lr_decay": config.layerwise_lr_decay,
            "reinit_top_layers": config.reinit_top_layers,
            "warmup_ratio": config.warmup_ratio,
        },
    }
    if lora:
        info["tuning"]["lora"] = {
            "r": config.lora_r,
            "alpha": config.lora_alpha,
            "dropout": config.lora_dropout,
            "target_modules": list(config.lora_target_modules),
        }
    return PreparedModel(model, lora, info)


def save_trained(trainer, prepared: PreparedModel, tokenizer, work: Path, config: TrainConfig) -> None:
    """Write the trained model into the run folder: a ``save_pretrained`` folder, and for LoRA runs
    the adapter beside it (and the merged model unless ``save_merged`` is off)."""
    if not prepared.lora:
        trainer.save_model(str(work))
        return
    from .lora import save_lora_run

    prepared.info["tuning"]["lora"].update(save_lora_run(trainer.model, tokenizer, work, save_merged=config.save_merged))
