"""Where training runs: CUDA with mixed precision when present, CPU otherwise."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from .config import TrainConfig
from .errors import ConfigError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainDevice:
    kind: str  # "cuda" or "cpu"
    precision: str  # "bf16", "fp16" or "fp32"
    name: str

    def trainer_kwargs(self) -> dict:
        """The TrainingArguments fields that follow from the device."""
        return {
            "use_cpu": self.kind == "cpu",
            "bf16": self.precision == "bf16",
            "fp16": self.precision == "fp16",
        }


def select_device(config: TrainConfig) -> TrainDevice:
    """Honour ``device`` and ``mixed_precision``; auto picks CUDA + bf16 (or fp16 on older GPUs)."""
    import torch

    has_cuda = torch.cuda.is_available()
    if config.device == "cuda" and not has_cuda:
        raise ConfigError("device=cuda but torch sees no CUDA GPU; use device=auto or device=cpu")
    kind = "cuda" if (config.device in ("auto", "cuda") and has_cuda) else "cpu"
    if kind == "cpu":
        if config.mixed_precision in ("fp16", "bf16"):
            log.warning("mixed_precision=%s ignored on CPU; training in fp32", config.mixed_precision)
        return TrainDevice("cpu", "fp32", "cpu")
    name = torch.cuda.get_device_name(0)
    if config.mixed_precision == "auto":
        precision = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    elif config.mixed_precision == "no":
        precision = "fp32"
    else:
        precision = config.mixed_precision
    return TrainDevice("cuda", precision, name)
