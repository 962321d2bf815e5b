"""Knowledge-distillation losses and the Trainer that applies them (Hinton et al. 2015; hidden-state
matching as in TinyBERT, Jiao et al. 2020).

The student's loss on a training batch is

    kd_alpha * T^2 * soft(student / T, teacher / T)  +  (1 - kd_alpha) * gold(student, labels)
    + kd_hidden * mean over mapped layers of MSE(student hidden state, teacher hidden state)

``soft`` is the KL divergence of the softmaxes (single-label, per token for NER) or the binary
cross-entropy against the teacher's sigmoids (multi-label); T^2 keeps the soft gradients on the
scale of the gold ones as T grows. Rows without labels (``--unlabelled`` texts) carry ignored
labels and count in the soft and hidden terms only. Evaluation batches carry no teacher outputs
and are scored on the gold labels alone, so early stopping and the kept checkpoint follow the
task metric exactly as in ``edgeft train``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
from edgeft_runtime.ner import IGNORE_INDEX

IGNORE = IGNORE_INDEX  # the label value torch's cross-entropy skips (and HF collators pad with)
TEACHER_LOGITS = "teacher_logits"


@dataclass(frozen=True)
class KdSettings:
    temperature: float
    alpha: float
    hidden: float  # weight of the hidden-state loss (0: off)
    multi_label: bool
    per_token: bool  # NER: one distribution per token, averaged over the real (unpadded) tokens
    hidden_pairs: tuple[tuple[int, int], ...] = ()  # (student, teacher) hidden_states indices


def soft_loss(student, teacher, temperature: float, *, multi_label: bool, mask=None):
    """T^2-scaled divergence of the student's tempered outputs from the teacher's (a scalar).

    student, teacher: logits (batch, labels) or (batch, tokens, labels); mask: (batch, tokens) of
    1 for real tokens (per-token outputs only)."""
    import torch.nn.functional as F

    s, t = student.float() / temperature, teacher.float() / temperature
    if multi_label:
        per_item = F.binary_cross_entropy_with_logits(s, t.sigmoid(), reduction="none").mean(-1)
    else:
        per_item = F.kl_div(F.log_softmax(s, -1), F.log_softmax(t, -1), log_target=True, reduction="none").sum(-1)
    if mask is not None:
        weights = mask.to(per_item.dtype)
        per_item = (per_item * weights).sum() / weights.sum().clamp(min=1)
    else:
        per_item = per_item.mean()
    return per_item * temperature**2


def gold_loss(logits, labels, *, multi_label: bool):
    """Cross-entropy on the rows/tokens that have labels; 0 when none has (an all-unlabelled batch)."""
    import torch.nn.functional as F

    if multi_label:
        labelled = labels[:, 0] != IGNORE
        if not labelled.any():
            return logits.sum() * 0.0
        return F.binary_cross_entropy_with_logits(logits[labelled].float(), labels[labelled].float())
    flat_labels = labels.reshape(-1)
    if not (flat_labels != IGNORE).any():
        return logits.sum() * 0.0
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), flat_labels, ignore_index=IGNORE)


def hidden_loss(student_states: Sequence[Any], teacher_states: Sequence[Any], pairs: Sequence[tuple[int, int]], mask):
    """Mean over ``pairs`` of the MSE between student and teacher hidden states on real tokens."""
    weights = mask.unsqueeze(-1).float()
    count = weights.sum().clamp(min=1) * student_states[0].shape[-1]
    total = 0.0
    for s, t in pairs:
        total = total + (((student_states[s].float() - teacher_states[t].float()) ** 2) * weights).sum() / count
    return total / len(pairs)


class WithTeacherLogits:
    """Collator: the task's own collator for the features, plus the rows' cached teacher logits
    as one tensor (per-token logits padded to the batch's length; the mask hides the padding)."""

    def __init__(self, base):
        self.base = base

    def __call__(self, features: list[dict[str, Any]]):
        import torch

        if TEACHER_LOGITS not in features[0]:
            return self.base(features)
        cached = [np.asarray(f[TEACHER_LOGITS], dtype=np.float32) for f in features]
        batch = self.base([{k: v for k, v in f.items() if k != TEACHER_LOGITS} for f in features])
        if cached[0].ndim == 1:
            batch[TEACHER_LOGITS] = torch.from_numpy(np.stack(cached))
        else:
            width = batch["input_ids"].shape[1]
            out = np.zeros((len(cached), width, cached[0].shape[-1]), dtype=np.float32)
            for i, logits in enumerate(cached):
                out[i, : len(logits)] = logits
            batch[TEACHER_LOGITS] = torch.from_numpy(out)
        return batch


MODEL_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def predict_logits(model, tokenizer, rows: Sequence[dict[str, Any]], *, per_token: bool, batch_size: int = 64) -> list[np.ndarray]:
    """The model's logits for each row (per token, cut to the row's length, when ``per_token``),
    in batches of similar length; the model runs in eval mode, so the outputs are what the
    exported model reproduces."""
    import torch
    from transformers import DataCollatorWithPadding

    collate = DataCollatorWithPadding(tokenizer)
    device = next(model.parameters()).device
    order = sorted(range(len(rows)), key=lambda i: len(rows[i]["input_ids"]))
    out: list[np.ndarray] = [np.zeros(0)] * len(rows)
    was_training = model.training
    model.eval()
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            batch = collate([{k: rows[i][k] for k in MODEL_INPUTS if k in rows[i]} for i in idx])
            logits = model(**{k: v.to(device) for k, v in batch.items()}).logits.float().cpu().numpy()
            for j, i in enumerate(idx):
                out[i] = logits[j, : len(rows[i]["input_ids"])].copy() if per_token else logits[j].copy()
    model.train(was_training)
    return out


def distill_trainer_class():
    """A transformers ``Trainer`` subclass whose training loss is the distillation loss above
    (built on first use: transformers is imported inside functions)."""
    from transformers import Trainer

    class DistillTrainer(Trainer):
        def __init__(self, *args: Any, kd: KdSettings, teacher=None, group_by_length: bool = False, **kwargs: Any):
            super().__init__(*args, **kwargs)
            self.kd = kd
            self.teacher = teacher
            self.group_by_length = group_by_length
            # The loss is a per-batch mean: let the Trainer divide it over accumulation steps.
            self.model_accepts_loss_kwargs = False
            # The rows carry the teacher's logits, which the model's forward does not take: keep
            # them (by default the Trainer drops every column the forward does not name).
            self.args.remove_unused_columns = False

        def _get_train_sampler(self, train_dataset=None):
            # Training batches only: transformers' own group_by_length also reorders evaluation,
            # and NER scoring reads the eval predictions by position.
            dataset = train_dataset if train_dataset is not None else self.train_dataset
            if not self.group_by_length or dataset is None:
                return super()._get_train_sampler(train_dataset)
            from transformers.trainer_pt_utils import LengthGroupedSampler

            lengths = [len(dataset[i]["input_ids"]) for i in range(len(dataset))]
            return LengthGroupedSampler(self.args.train_batch_size * self.args.gradient_accumulation_steps, lengths=lengths)

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            import torch

            inputs = dict(inputs)
            labels = inputs.pop("labels", None)
            soft_targets = inputs.pop(TEACHER_LOGITS, None)
            kd = self.kd
            if model.training and soft_targets is None:
                raise RuntimeError("a training batch arrived without the teacher's logits; the collator dropped them")
            match_hidden = soft_targets is not None and kd.hidden > 0
            outputs = model(**inputs, output_hidden_states=match_hidden)
            logits = outputs.logits
            mask = inputs["attention_mask"] if kd.per_token else None
            if soft_targets is None:  # evaluation: the task's own loss on gold labels
                loss = gold_loss(logits, labels, multi_label=kd.multi_label) if labels is not None else logits.sum() * 0.0
            else:
                loss = kd.alpha * soft_loss(logits, soft_targets, kd.temperature, multi_label=kd.multi_label, mask=mask)
                if kd.alpha < 1 and labels is not None:
                    loss = loss + (1 - kd.alpha) * gold_loss(logits, labels, multi_label=kd.multi_label)
                if match_hidden:
                    self.teacher.to(logits.device)
                    with torch.no_grad():
                        teacher_states = self.teacher(**inputs, output_hidden_states=True).hidden_states
                    loss = loss + kd.hidden * hidden_loss(outputs.hidden_states, teacher_states, kd.hidden_pairs, inputs["attention_mask"])
            # Evaluation gathers every output but the loss: hand it the logits only.
            return (loss, {"logits": logits}) if return_outputs else loss

    return DistillTrainer
