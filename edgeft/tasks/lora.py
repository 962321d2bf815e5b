"""LoRA adapters through the ``peft`` library: wrap a model before training, save the adapter
and the merged model after it.

The adapter lives in its own folder inside the run (``adapter/``): transformers treats any folder
holding an ``adapter_config.json`` as "an adapter for the base model it names" and would load
that base instead of the run's own merged weights, so the two must not share a folder.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from edgeft_exporters.constants import ADAPTER_DIR
from edgeft_exporters.requirements import PEFT_MODULES, missing_distributions

from ..config import TrainConfig
from ..errors import ConfigError
from .freezing import model_parts

log = logging.getLogger(__name__)

# edgeft task -> peft's task type (what wraps the model's forward and its head).
PEFT_TASK_TYPES = {"classifier": "SEQ_CLS", "ner": "TOKEN_CLS"}


def require_peft() -> None:
    """ConfigError with the pip command when the ``peft`` extra is missing."""
    missing = missing_distributions(PEFT_MODULES)
    if missing:
        raise ConfigError(f"--peft lora needs {', '.join(missing)}, which is not installed: pip install 'edgeft[peft]'")


def linear_module_names(model) -> list[str]:
    """The names (last part) of the model's linear layers below its encoder: what
    ``lora_target_modules`` may name."""
    import torch

    base = getattr(model, "base_model", model)
    return sorted({name.rsplit(".", 1)[-1] for name, m in base.named_modules() if isinstance(m, torch.nn.Linear) and name})


def check_target_modules(model, targets: list[str]) -> None:
    """ConfigError naming the model's linear modules when a target is not one of them."""
    known = linear_module_names(model)
    unknown = [t for t in targets if t not in known]
    if unknown:
        raise ConfigError(
            f"config field lora_target_modules: {', '.join(map(repr, unknown))} is not a linear module of "
            f"{type(model).__name__} ({model.config.model_type}); its modules are: {', '.join(known)}"
        )


def apply_lora(model, config: TrainConfig, task: str):
    """The model wrapped by peft: LoRA adapters on ``config.lora_target_modules``, the task head
    (and the pooler) trained in full as ``modules_to_save``, everything else frozen."""
    require_peft()
    from peft import LoraConfig, get_peft_model

    check_target_modules(model, config.lora_target_modules)
    head = sorted(model_parts(model).head)
    lora = LoraConfig(
        task_type=PEFT_TASK_TYPES[task],
        r=config.lora_r,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=list(config.lora_target_modules),
        modules_to_save=list(head),  # a copy: peft adds its defaults to the list it is given
        bias="none",
    )
    wrapped = get_peft_model(model, lora)
    log.info("LoRA r=%d alpha=%d on %s; trained in full: %s", config.lora_r, config.lora_alpha, ", ".join(config.lora_target_modules), ", ".join(head))
    return wrapped


def save_lora_run(model, tokenizer, work: Path, *, save_merged: bool) -> dict[str, Any]:
    """Write the adapter to ``work/adapter`` (peft's ``save_pretrained``) and, when
    ``save_merged``, the model with the adapter merged in as an ordinary ``save_pretrained``
    folder at ``work``; the tokenizer goes to ``work`` either way. Returns what the run records."""
    adapter_dir = work / ADAPTER_DIR
    model.save_pretrained(str(adapter_dir))
    tokenizer.save_pretrained(str(work))
    if save_merged:
        merged = model.merge_and_unload()
        merged.save_pretrained(str(work))
    sizes = {p.name: p.stat().st_size for p in adapter_dir.iterdir() if p.is_file()}
    return {"adapter_dir": ADAPTER_DIR, "adapter_bytes": sum(sizes.values()), "merged": save_merged}
