"""The partial output of a file prediction and its state, so that ``--resume`` can continue it.

Beside ``OUT`` lives ``.OUT.partial/``: one part file per completed chunk and ``state.json``,
which says what the job was (input file, its size and time, the bundle, the options) and, per
completed chunk in order, its index, the records it consumed, the rows it wrote, and its part's
name, size and sha256. A part is written to a temporary name and renamed, then the state is
rewritten the same way, so a kill at any moment leaves a state that names only complete parts.

``--resume`` trusts nothing it cannot check: every part the state names is re-hashed, and from
the first one that is missing or changed on, the chunks are computed again (with a warning that
says so), so a resumed output always holds every row. When every chunk is done the parts are
joined into one file, which is renamed to ``OUT``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError, DataError, EdgeftError

log = logging.getLogger(__name__)

STATE_FORMAT = "edgeft-predict-state"
# 2: each chunk records its part's name, size and sha256, and the state its chunk count.
STATE_VERSION = 2


class StoppedRun(EdgeftError):
    """A file prediction stopped for a reason outside its input (a dead worker, a full disk); its
    completed chunks are kept for ``--resume`` and the message says where."""


@dataclass
class Chunk:
    """A completed chunk: input records it consumed, rows it wrote, bad rows it skipped, and its
    part file (None when it wrote none: a Parquet chunk whose rows were all skipped)."""

    records: int
    rows: int
    skipped: int
    part: str | None = None
    bytes: int | None = None
    sha256: str | None = None


def file_digest(path: Path) -> tuple[int, str]:
    """(size in bytes, hex sha256) of a file."""
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
            size += len(block)
    return size, h.hexdigest()


@dataclass
class PartialOutput:
    """``.OUT.partial/`` for ``final``: its parts, its state, and the job it belongs to."""

    final: Path
    job: dict[str, Any]
    chunks: list[Chunk] = field(default_factory=list)
    fields: list[str] | None = None  # CSV outputs: the columns, fixed by the first row

    @property
    def folder(self) -> Path:
        return self.final.parent / f".{self.final.name}.partial"

    @property
    def state_file(self) -> Path:
        return self.folder / "state.json"

    def part(self, index: int) -> Path:
        return self.folder / f"part-{index:06d}{self.final.suffix}"

    @property
    def records_done(self) -> int:
        return sum(c.records for c in self.chunks)

    def start(self, resume: bool) -> None:
        """Begin afresh, or (``resume``) load the state of an earlier run of the same job and keep
        the completed chunks whose parts are intact (see the module doc)."""
        if not resume:
            if self.state_file.is_file():
                log.warning("%s: discarding the partial output of an interrupted run (--resume would have continued it)", self.folder)
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder.mkdir(parents=True)
            self._save()
            return
        if not self.state_file.is_file():
            raise ConfigError(f"--resume: no interrupted run to continue for {self.final} (no {self.state_file}); start without --resume")
        state = self._read_state()
        changed = [key for key in sorted(set(self.job) | set(state["job"])) if self.job.get(key) != state["job"].get(key)]
        if changed:
            raise ConfigError(
                f"--resume: the interrupted run of {self.final} had other {', '.join(changed)}; "
                "rerun with the same input, bundle and options, or start without --resume (which discards it)"
            )
        chunks = [Chunk(**{k: c[k] for k in Chunk.__dataclass_fields__ if k in c}) for c in state["chunks"]]
        self.fields = state.get("fields")
        self.chunks = chunks[: self._intact_prefix(chunks)]
        if len(self.chunks) < len(chunks):
            for stale in self.folder.glob("part-*"):  # the parts from the first damaged one on
                if stale.name not in {c.part for c in self.chunks}:
                    stale.unlink()
            if not self.chunks:
                self.fields = None
            self._save()

    def _read_state(self) -> dict[str, Any]:
        """state.json, checked for its shape: any damage is one error naming the file and the way out."""
        path = self.state_file
        fix = f"start without --resume to begin afresh (it replaces {self.folder.name}), or delete {self.folder}"
        try:
            state = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise ConfigError(f"--resume: {path} is damaged (not valid JSON: {e}); {fix}") from None
        except OSError as e:
            raise ConfigError(f"--resume: {path} cannot be read ({e.strerror}); {fix}") from None
        if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
            raise ConfigError(f"--resume: {path} is not a state this edgeft writes; {fix}")
        if state.get("version") != STATE_VERSION:
            raise ConfigError(f"--resume: {path} has state version {state.get('version')!r}, this edgeft reads {STATE_VERSION}; {fix}")
        problem = _state_problem(state)
        if problem:
            raise ConfigError(f"--resume: {path} is damaged ({problem}); {fix}")
        return state

    def _intact_prefix(self, chunks: list[Chunk]) -> int:
        """How many chunks, from the first, have their part intact; warns about the first that has not."""
        for index, chunk in enumerate(chunks):
            problem = None
            if chunk.part is not None:
                path = self.folder / chunk.part
                if not path.is_file():
                    problem = f"{path.name} is missing"
                elif file_digest(path) != (chunk.bytes, chunk.sha256):
                    problem = f"{path.name} was changed (its size or sha256 differs from the state's)"
            if problem:
                log.warning(
                    "--resume: %s in %s; computing chunks %d to %d again (rows from input record %d on)",
                    problem, self.folder, index + 1, len(chunks), sum(c.records for c in chunks[:index]) + 1,
                )
                return index
        return len(chunks)

    def add(self, chunk: Chunk, written: Path | None) -> None:
        """Record a completed chunk whose part was written to ``written`` (None: no rows)."""
        index = len(self.chunks)
        if written is not None:
            chunk.bytes, chunk.sha256 = file_digest(written)
            chunk.part = self.part(index).name
            os.replace(written, self.part(index))
        self.chunks.append(chunk)
        self._save()

    def parts(self) -> list[Path]:
        """Every chunk's part, in order; a part that vanished since it was checked is an error, never a gap."""
        paths = [self.folder / c.part for c in self.chunks if c.part is not None]
        missing = [p for p in paths if not p.is_file()]
        if missing:
            raise DataError(f"{missing[0]}: a finished part of the output disappeared while the run went on; rerun with --resume to compute it again")
        return paths

    def commit(self, merged: Path) -> Path:
        """Put the joined output in place and drop the partial folder."""
        os.replace(merged, self.final)
        self.discard()
        return self.final

    def discard(self) -> None:
        """Drop the partial folder (a run stopped by bad input cannot be resumed: the fix changes the input)."""
        shutil.rmtree(self.folder, ignore_errors=True)

    def _save(self) -> None:
        state = {
            "format": STATE_FORMAT,
            "version": STATE_VERSION,
            "job": self.job,
            "fields": self.fields,
            "count": len(self.chunks),
            "chunks": [{"index": i, **asdict(c)} for i, c in enumerate(self.chunks)],
        }
        tmp = self.folder / "state.json.tmp"
        tmp.write_text(json.dumps(state, indent=1), encoding="utf-8")
        os.replace(tmp, self.state_file)


def _state_problem(state: dict[str, Any]) -> str | None:
    """What is wrong with a state's structure (count, order, fields of each chunk), or None."""
    chunks = state.get("chunks")
    if not isinstance(state.get("job"), dict) or not isinstance(chunks, list):
        return "no 'job' or 'chunks'"
    if state.get("count") != len(chunks):
        return f"'count' is {state.get('count')!r} but {len(chunks)} chunk(s) are listed"
    fields = state.get("fields")
    if fields is not None and not (isinstance(fields, list) and all(isinstance(f, str) for f in fields)):
        return "'fields' is not a list of column names"
    for index, chunk in enumerate(chunks):
        if not isinstance(chunk, dict) or chunk.get("index") != index:
            return f"chunk {index} is out of order"
        counts = [chunk.get(k) for k in ("records", "rows", "skipped")]
        if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in counts):
            return f"chunk {index} has no valid records/rows/skipped counts"
        part = chunk.get("part")
        if part is None:
            continue
        if not isinstance(part, str) or part != f"part-{index:06d}{Path(part).suffix}" or not isinstance(chunk.get("sha256"), str) or not isinstance(chunk.get("bytes"), int):
            return f"chunk {index} names no valid part, size and sha256"
    return None
