"""The Arrow type of a bundle's ``run_task`` result, so that predictions become typed columns.

Declared per task rather than inferred from values: inference depends on the rows at hand (a
chunk whose texts have no entities would give NER results the type ``list<null>``, and the next
chunk a different one), and files written chunk by chunk need one schema for all of them.
"""

from __future__ import annotations

from typing import Any

from ..constants import MULTI_LABEL, TASK_CLASSIFIER, TASK_EMBEDDING, TASK_FILL_MASK, TASK_NER, TASK_SETFIT


def require_pyarrow() -> Any:
    """Import pyarrow, or fail with the command that installs it."""
    try:
        import pyarrow
    except ImportError:
        raise ImportError('this needs pyarrow: pip install pyarrow (or pip install "edgeft-runtime[ray]")') from None
    return pyarrow


def prediction_type(manifest: dict[str, Any]) -> Any:
    """The ``pyarrow.DataType`` of one text's ``run_task`` result for a bundle with ``manifest``."""
    pa = require_pyarrow()
    task = manifest["task"]
    if task in (TASK_CLASSIFIER, TASK_SETFIT):
        label = pa.struct([("label", pa.string()), ("score", pa.float64())])
        return pa.list_(label) if manifest.get("problem_type") == MULTI_LABEL else label
    if task == TASK_NER:
        entity = pa.struct(
            [("entity", pa.string()), ("text", pa.string()), ("start", pa.int64()), ("end", pa.int64()), ("score", pa.float64())]
        )
        return pa.list_(entity)
    if task == TASK_FILL_MASK:
        candidate = pa.struct([("score", pa.float64()), ("token", pa.int64()), ("token_str", pa.string()), ("sequence", pa.string())])
        return pa.list_(pa.list_(candidate))
    if task == TASK_EMBEDDING:
        # float32: what embed() computes; one fixed-size list per text where the manifest says the size.
        dim = manifest.get("embedding_dim")
        return pa.list_(pa.float32(), dim) if isinstance(dim, int) else pa.list_(pa.float32())
    raise ValueError(f"no Arrow type for task {task!r}")


def prediction_array(values: list[Any], manifest: dict[str, Any]) -> Any:
    """``run_task`` results (None for rows that have none) as a ``pyarrow.Array`` of the task's type."""
    pa = require_pyarrow()
    return pa.array(values, type=prediction_type(manifest))
