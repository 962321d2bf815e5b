"""The partial output of a file prediction and its state, so that ``--resume`` can continue it.

Beside ``OUT`` lives ``.OUT.partial/``: one part file per completed chunk and ``state.json``,
which lists them and what the job was (input file, its size and time, the bundle, the options).
A part is written to a temporary name and renamed, then the state is rewritten the same way, so
a kill at any moment leaves a state that names only complete parts. When every chunk is done the
parts are joined into one file, which is renamed to ``OUT``.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError

STATE_FORMAT = "edgeft-predict-state"
STATE_VERSION = 1


@dataclass
class Chunk:
    """A completed chunk: input records it consumed, rows it wrote, bad rows it skipped."""

    records: int
    rows: int
    skipped: int


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
        """Begin afresh, or (``resume``) load the state of an earlier run of the same job."""
        if not resume:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder.mkdir(parents=True)
            self._save()
            return
        if not self.state_file.is_file():
            raise ConfigError(f"--resume: no interrupted run to continue for {self.final} (no {self.state_file}); start without --resume")
        state = json.loads(self.state_file.read_text(encoding="utf-8"))
        if state.get("format") != STATE_FORMAT or state.get("version") != STATE_VERSION:
            raise ConfigError(f"--resume: {self.state_file} is not a state this edgeft writes; start without --resume")
        changed = [key for key in sorted(set(self.job) | set(state["job"])) if self.job.get(key) != state["job"].get(key)]
        if changed:
            raise ConfigError(
                f"--resume: the interrupted run of {self.final} had other {', '.join(changed)}; "
                "rerun with the same input, bundle and options, or start without --resume"
            )
        self.chunks = [Chunk(**c) for c in state["chunks"]]
        self.fields = state.get("fields")

    def add(self, chunk: Chunk, written: Path | None) -> None:
        """Record a completed chunk whose part was written to ``written`` (None: no rows)."""
        index = len(self.chunks)
        if written is not None:
            os.replace(written, self.part(index))
        self.chunks.append(chunk)
        self._save()

    def parts(self) -> list[Path]:
        return [self.part(i) for i, c in enumerate(self.chunks) if self.part(i).exists()]

    def commit(self, merged: Path) -> Path:
        """Put the joined output in place and drop the partial folder."""
        os.replace(merged, self.final)
        shutil.rmtree(self.folder, ignore_errors=True)
        return self.final

    def _save(self) -> None:
        state = {
            "format": STATE_FORMAT,
            "version": STATE_VERSION,
            "job": self.job,
            "fields": self.fields,
            "chunks": [c.__dict__ for c in self.chunks],
        }
        tmp = self.folder / "state.json.tmp"
        tmp.write_text(json.dumps(state, indent=1), encoding="utf-8")
        os.replace(tmp, self.state_file)
