"""Same text, same answer: how far a text's probabilities move with the texts that share its batch.

Dynamic int8 quantises each activation tensor with a scale taken from the whole batch, so a text
scored among others can get different probabilities than scored alone; static int8 (fixed
scales) and fp32 differ only by float summation order. The export measures this on the bundle's
reference set on the exporting machine (``reference.exporter.variants[...].batch_effect``); the
device check measures it again on the same texts and fails a variant that moves more than
``bound(recorded)``. Tasks without ``predict_proba`` (NER, fill-mask, embeddings) are not measured.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

# The batch the runtime uses by default (``predict_proba(texts)``): what an app's bulk call sees.
BATCH = 32
# Float rounding alone (fp32, static int8): measured up to ~1e-6 on MiniLM; a kernel that
# reorders sums differently on another CPU stays far below this.
FLOAT_ROUNDING = 1e-4
# Another CPU's int8 kernels round activations differently: the device may move a text by up to
# this multiple of what the exporting machine measured on the same texts.
MARGIN = 2.0


def batch_effect(model: Any, texts: Sequence[str], batch_size: int = BATCH) -> float | None:
    """Largest |probability| change of any text between scoring ``texts`` in batches of
    ``batch_size`` and one at a time; None for models without ``predict_proba``."""
    if not hasattr(model, "predict_proba") or not texts:
        return None
    together = np.asarray(model.predict_proba(list(texts), batch_size=batch_size), dtype=np.float64)
    alone = np.stack([np.ravel(model.predict_proba([text], batch_size=1)) for text in texts]).astype(np.float64)
    return float(np.abs(together.reshape(alone.shape) - alone).max())


def bound(recorded: float | None) -> float | None:
    """The most a device may measure, given the exporting machine's figure on the same texts."""
    return None if recorded is None else max(MARGIN * float(recorded), FLOAT_ROUNDING)
