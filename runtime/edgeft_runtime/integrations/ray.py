"""Run a bundle over a Ray Dataset: ``predict_dataset(ds, bundle)`` adds a prediction column.

    import ray, edgeft_runtime.integrations.ray as er
    ds = ray.data.read_parquet("s3://bucket/tickets/")
    ds = er.predict_dataset(ds, "/shared/models/tickets-int8", text_column="body", concurrency=8)
    ds.write_parquet("s3://bucket/tickets-scored/")

Ray Data reads the input, ``map_batches`` hands batches to a pool of actors (``concurrency`` of
them), each of which loads the bundle once, and the output is whatever the caller does with the
dataset. The same code runs on a laptop (a local Ray) and on a cluster (``ray.init(address=...)``).

The bundle reaches the actors either as a path that every node can read (shared storage; a
folder or a .zip/.tar.gz archive), or through Ray's object store with ``ship_bundle(path)``: the
bundle's .zip travels once, and each actor unpacks it into its node's cache and verifies every
file against the manifest, exactly as ``edgeft_runtime.load`` does for any archive.

Needs ``pip install "edgeft-runtime[ray]"`` (ray[data]); the workers need edgeft-runtime too.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..base import text_problem
from ..constants import ARCHIVE_SUFFIXES
from .arrow import prediction_type

INSTALL_HINT = 'pip install "edgeft-runtime[ray]"  (or "edgeft[ray]")'


def require_ray() -> Any:
    """Import ray (with Ray Data), or fail with the command that installs it."""
    try:
        import ray
        import ray.data  # noqa: F401 - Ray Data ships in the ray[data] extra's dependencies
    except ImportError:
        raise ImportError(f"the Ray integration needs Ray Data: {INSTALL_HINT}") from None
    return ray


@dataclass(frozen=True)
class ShippedBundle:
    """A bundle archive put into Ray's object store once, for actors on nodes without shared storage."""

    ref: Any  # ray.ObjectRef of the archive's bytes
    name: str  # archive file name (its suffix tells the format)
    sha256: str

    def materialize(self, cache_dir: str | Path | None = None) -> Path:
        """Write the archive to this node's disk (once per node and archive) and return its path."""
        import ray

        root = Path(cache_dir or os.environ.get("EDGEFT_CACHE") or Path.home() / ".cache" / "edgeft" / "bundles")
        path = root / "shipped" / f"{self.sha256[:32]}-{self.name}"
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            data = ray.get(self.ref)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.partial")
            tmp.write_bytes(data)
            os.replace(tmp, path)  # several actors of one node may write it at once: last rename wins, same bytes
        return path


def ship_bundle(bundle: str | Path) -> ShippedBundle:
    """Put a bundle (folder or .zip/.tar.gz archive) into Ray's object store as one archive.

    Call after ``ray.init``. A folder is packed into a .zip first. Actors check the archive's
    files against its manifest when they load it, so damage in transit is refused like any other.
    """
    ray = require_ray()
    from ..archive import pack_bundle

    path = Path(bundle)
    if path.is_dir():
        with tempfile.TemporaryDirectory() as tmp:
            archive = pack_bundle(path, Path(tmp) / f"{path.name or 'bundle'}.zip")
            data = archive.read_bytes()
            name = archive.name
    elif str(path).lower().endswith(ARCHIVE_SUFFIXES) and path.is_file():
        data, name = path.read_bytes(), path.name
    else:
        raise FileNotFoundError(f"{bundle}: not a bundle folder or a .zip/.tar.gz bundle archive")
    return ShippedBundle(ray.put(data), name, hashlib.sha256(data).hexdigest())


class BundlePredictor:
    """The Ray Data actor: loads the bundle once in ``__init__``, then predicts batch after batch.

    A batch is a ``pyarrow.Table``; the result is the same table with ``output_column`` added,
    typed per task (see ``integrations.arrow.prediction_type``). Rows whose text cannot be run
    (empty, or without a required token such as ``[MASK]``) raise ValueError, or with
    ``skip_bad`` get a null prediction.
    """

    def __init__(
        self,
        bundle: str | ShippedBundle,
        *,
        text_column: str = "text",
        output_column: str = "prediction",
        variant: str = "auto",
        threads: int | None = 1,
        skip_bad: bool = False,
        source: str | None = None,
    ):
        if threads == 1:
            # One core per actor: the tokenizer's own thread pool would otherwise take every core.
            os.environ["TOKENIZERS_PARALLELISM"] = "false"
        from ..loader import load

        path = bundle.materialize() if isinstance(bundle, ShippedBundle) else bundle
        self.model = load(path, variant=variant, threads=threads)
        self.type = prediction_type(self.model.manifest)
        self.text_column = text_column
        self.output_column = output_column
        self.skip_bad = skip_bad
        self.source = source or "the dataset"

    def __call__(self, batch: Any) -> Any:
        import pyarrow as pa

        if self.text_column not in batch.column_names:
            columns = ", ".join(batch.column_names) or "(none)"
            raise ValueError(f"{self.source}: no column {self.text_column!r} (columns: {columns}); pass the text column's name")
        if self.output_column in batch.column_names:
            raise ValueError(f"{self.source}: already has a column {self.output_column!r}; choose another output column")
        texts = batch.column(self.text_column).to_pylist()
        good: list[int] = []
        for i, text in enumerate(texts):
            problem = text_problem(text, self.model.required_tokens)
            if problem is None:
                good.append(i)
            elif not self.skip_bad:
                shown = text if not isinstance(text, str) or len(text) < 60 else text[:57] + "..."
                raise ValueError(
                    f"{self.source}: {problem} in column {self.text_column!r} ({shown!r}); "
                    "fix or remove the row, or skip such rows (--skip-bad / skip_bad=True)"
                )
        values: list[Any] = [None] * len(texts)
        if good:
            for i, result in zip(good, self.model.run_task([texts[i] for i in good])):
                values[i] = result
        return batch.append_column(self.output_column, pa.array(values, type=self.type))


def predict_dataset(
    ds: Any,
    bundle: str | Path | ShippedBundle,
    *,
    text_column: str = "text",
    output_column: str = "prediction",
    variant: str = "auto",
    concurrency: int | tuple[int, int] = 2,
    batch_size: int = 1024,
    threads: int | None = 1,
    num_cpus: float | None = None,
    skip_bad: bool = False,
    source: str | None = None,
) -> Any:
    """``ds`` with a column ``output_column`` holding each row's ``run_task`` result (lazy, like any Ray Dataset).

    bundle: a path every worker can read (folder or archive), or ``ship_bundle(path)``.
    concurrency: actors (each loads the bundle once); a (min, max) pair lets Ray scale between.
    batch_size: rows per actor call; within a call, texts are sorted by length and run in
        batches of the model's default size.
    threads: onnxruntime threads per actor; ``num_cpus`` (default: ``threads``, or 1) is what
        Ray reserves per actor. When the actors take every CPU of a small cluster, give the
        reads ``num_cpus=0`` (``ray.data.read_csv(..., num_cpus=0)``), or they wait for a CPU
        the actors never free.
    skip_bad: rows with an empty text (or, for fill-mask, no [MASK]) get a null prediction
        instead of failing the job.
    source: how error messages name the data (e.g. the input file).

    The row order is Ray Data's: set ``DataContext.get_current().execution_options.preserve_order
    = True`` when the output must follow the input's order.
    """
    require_ray()
    if not isinstance(bundle, ShippedBundle):
        bundle = str(bundle)
    return ds.map_batches(
        BundlePredictor,
        batch_format="pyarrow",
        batch_size=batch_size,
        concurrency=concurrency,
        num_cpus=num_cpus if num_cpus is not None else (threads or 1),
        fn_constructor_kwargs=dict(
            bundle=bundle,
            text_column=text_column,
            output_column=output_column,
            variant=variant,
            threads=threads,
            skip_bad=skip_bad,
            source=source,
        ),
    )
