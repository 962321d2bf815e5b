"""What every bundle model shares: inputs checked, length-bucketed batches, one session run each."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
import onnxruntime as ort
from tokenizers import Encoding

from .errors import BundleError
from .tokenizer import BundleTokenizer

_NUMPY_TYPES = {"tensor(int64)": np.int64, "tensor(int32)": np.int32}
_KNOWN_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def as_text_list(texts: str | Sequence[str]) -> tuple[list[str], bool]:
    """Accept one string or a sequence of strings; return (list, was_single)."""
    if isinstance(texts, str):
        return [texts], True
    if isinstance(texts, (bytes, bytearray)):
        raise TypeError("texts must be str, not bytes; decode them first (e.g. data.decode('utf-8'))")
    items = list(texts)
    for i, t in enumerate(items):
        if not isinstance(t, str):
            raise TypeError(f"texts[{i}] is {type(t).__name__}; every input must be a str")
    return items, False


def text_problem(text: object, required_tokens: Sequence[str] = ()) -> str | None:
    """Why ``text`` cannot be run (an empty text, a missing required token such as a fill-mask
    model's ``[MASK]``), or None when it can. The readers of large inputs skip or refuse such rows
    with this one rule."""
    if text is None or (isinstance(text, str) and not text.strip()):
        return "empty text"
    if not isinstance(text, str):
        return f"text is {type(text).__name__}, not a string"
    for token in required_tokens:
        if token not in text:
            return f"text has no {token}"
    return None


class BundleModel:
    """A loaded bundle: manifest, tokenizer and one onnxruntime session.

    Subclasses add the task's public methods (``predict``, ``embed``, ``tag``, ``fill_mask``) and
    name the one that is the task's answer in ``run_task``. Instances hold no per-call state, so
    one instance may be shared across threads.
    """

    # Texts per session run when the caller gives no batch size.
    default_batch_size: int = 32

    def __init__(
        self,
        bundle_dir: Path,
        manifest: dict[str, Any],
        session: ort.InferenceSession,
        tokenizer: BundleTokenizer,
        variant: str,
    ):
        self.bundle_dir = bundle_dir
        self.manifest = manifest
        self.session = session
        self.tokenizer = tokenizer
        self.variant = variant
        self.task: str = manifest["task"]
        self.labels: list[str] = list(manifest.get("labels") or [])
        static = manifest.get("static_shape") or {}
        self.static_batch: int | None = static.get("batch")

        self._input_names = [i.name for i in session.get_inputs()]
        unknown = [n for n in self._input_names if n not in _KNOWN_INPUTS]
        if unknown:
            raise BundleError(f"{bundle_dir}: model input(s) {unknown} are not token inputs this runtime can feed")
        types = {i.name: i.type for i in session.get_inputs()}
        dtypes = {_NUMPY_TYPES.get(types[n]) for n in self._input_names}
        if None in dtypes or len(dtypes) != 1:
            raise BundleError(f"{bundle_dir}: model inputs must all be int64 or all int32, found {sorted(types.values())}")
        self._dtype = dtypes.pop()
        self._output_names = [o.name for o in session.get_outputs()]

    @property
    def required_tokens(self) -> tuple[str, ...]:
        """Tokens every input of ``run_task`` must contain (a fill-mask model's mask token); none by default."""
        return ()

    def run_task(self, texts: str | Sequence[str], batch_size: int | None = None) -> Any:
        """The task's answer for each text, as the task's own method gives it (``predict`` for
        classifiers, ``tag`` for NER, ``fill_mask`` for masked-LM): what `edgeft predict` prints and
        what the benchmark times. JSON-serialisable."""
        raise NotImplementedError(f"{type(self).__name__} does not define run_task")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(bundle={str(self.bundle_dir)!r}, task={self.task!r}, variant={self.variant!r})"

    def _feed(self, encodings: Sequence[Encoding]) -> dict[str, np.ndarray]:
        arrays = self.tokenizer.to_arrays(encodings, dtype=self._dtype)
        if self.static_batch and len(encodings) < self.static_batch:
            pad_rows = self.static_batch - len(encodings)
            arrays = {k: np.concatenate([v, np.zeros((pad_rows, v.shape[1]), v.dtype)]) for k, v in arrays.items()}
        return {name: arrays[name] for name in self._input_names}

    def _run(self, encodings: Sequence[Encoding], outputs: Sequence[str]) -> list[np.ndarray]:
        result = self.session.run(list(outputs), self._feed(encodings))
        return [r[: len(encodings)] for r in result]

    def _batches(
        self, texts: Sequence[str], batch_size: int, outputs: Sequence[str]
    ) -> Iterator[tuple[np.ndarray, list[Encoding], list[np.ndarray]]]:
        """Yield (indices into texts, encodings, outputs) per batch.

        Texts are grouped by token length so each batch pads to a near-equal length: padding is
        compute spent on nothing, and mixed-length inputs otherwise pay for their longest row.
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if self.static_batch:
            batch_size = self.static_batch
        encodings = self.tokenizer.encode(texts)
        if len(encodings) == 1:
            yield np.zeros(1, dtype=np.int64), encodings, self._run(encodings, outputs)
            return
        order = np.argsort([len(e.ids) for e in encodings], kind="stable")
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            batch = [encodings[i] for i in idx]
            yield idx, batch, self._run(batch, outputs)

    def run_output(self, texts: str | Sequence[str], output: str, batch_size: int = 32) -> np.ndarray:
        """The raw graph output ``output`` (e.g. "logits"), one row per text, in input order."""
        return self.run_outputs(texts, [output], batch_size)[output]

    def run_outputs(self, texts: str | Sequence[str], outputs: Sequence[str], batch_size: int = 32) -> dict[str, np.ndarray]:
        """Several raw graph outputs from one pass over ``texts``: name -> one row per text, in input order."""
        items, _ = as_text_list(texts)
        for output in outputs:
            if output not in self._output_names:
                raise ValueError(f"{output!r} is not an output of this model; outputs: {', '.join(self._output_names)}")
        return dict(zip(outputs, self._run_rows(items, batch_size, outputs)))

    def _run_rows(self, texts: Sequence[str], batch_size: int, outputs: Sequence[str]) -> list[np.ndarray]:
        """Run every text once; return, per name in ``outputs``, one row per text in input order."""
        results: list[np.ndarray] | None = None
        for idx, _, values in self._batches(texts, batch_size, outputs):
            if results is None:
                results = [np.empty((len(texts),) + v.shape[1:], dtype=v.dtype) for v in values]
            for result, value in zip(results, values):
                result[idx] = value
        if results is None:  # no texts
            return [self._empty_output(output) for output in outputs]
        return results

    def _empty_output(self, output: str) -> np.ndarray:
        shape = self.session.get_outputs()[self._output_names.index(output)].shape
        width = shape[-1] if isinstance(shape[-1], int) else 0
        return np.zeros((0, width), dtype=np.float32)
