"""Predictions over large inputs: `edgeft predict --input FILE --output FILE`.

``readers`` (streaming, per format) → ``pipeline.predict_file`` (chunks, bad rows, progress) →
``workers`` (this process or a pool) → ``writers`` (per format) with ``resume`` (the partial
output and its state). ``ray_engine`` runs the same job on Ray Data.
"""

from .pipeline import FileJob, FileResult, predict_file

__all__ = ["FileJob", "FileResult", "predict_file"]
