"""Write an output folder beside its destination and move it into place only when complete.

A run or bundle is never half-written: work happens in ``.NAME.partial`` next to ``NAME``; on
success the finished folder replaces the old one by rename. If the process dies, the previous
output is untouched and the partial folder is cleaned up (or resumed from) by the next run.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

log = logging.getLogger(__name__)


class OutputExistsError(Exception):
    """The destination exists and overwriting was not asked for."""


def partial_path(final: Path) -> Path:
    return final.parent / f".{final.name}.partial"


class StagedDir:
    """Context manager: ``with StagedDir(out, overwrite=...) as work: ...; stage.commit()``.

    keep_partial: leave the partial folder behind on error (training keeps it so ``--resume`` can
    continue from its checkpoints); otherwise it is removed.
    resume: reuse an existing partial folder instead of starting clean.
    """

    def __init__(self, final: str | Path, *, overwrite: bool = False, keep_partial: bool = False, resume: bool = False):
        self.final = Path(final)
        self.partial = partial_path(self.final)
        self.overwrite = overwrite
        self.keep_partial = keep_partial
        self.resume = resume
        self.committed = False

    def check(self) -> None:
        """Refuse an existing destination before any work starts."""
        if self.final.exists() and not self.overwrite:
            raise OutputExistsError(f"{self.final}: already exists; pass --overwrite to replace it, or choose another --out")
        if self.final.exists() and not self.final.is_dir():
            raise OutputExistsError(f"{self.final}: exists and is not a folder; choose another --out")

    def __enter__(self) -> Path:
        self.check()
        # Under torchrun/accelerate every rank enters; only the main one may clear old work.
        main_process = os.environ.get("RANK", "0") == "0"
        if self.partial.exists() and not self.resume and main_process:
            log.info("removing unfinished output from an earlier run: %s", self.partial)
            shutil.rmtree(self.partial)
        self.partial.mkdir(parents=True, exist_ok=True)
        return self.partial

    def commit(self) -> Path:
        """Move the finished folder into place, replacing the old one only now."""
        old = None
        if self.final.exists():
            old = self.final.parent / f".{self.final.name}.old-{os.getpid()}"
            os.replace(self.final, old)
        os.replace(self.partial, self.final)
        self.committed = True
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return self.final

    def __exit__(self, exc_type, exc, tb) -> None:
        if not self.committed and not self.keep_partial and self.partial.exists():
            shutil.rmtree(self.partial, ignore_errors=True)
