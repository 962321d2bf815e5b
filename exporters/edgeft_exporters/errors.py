"""Errors of the export stage, each with a message a user can act on."""


class ExportError(Exception):
    """The run cannot be exported (missing files, unsupported model, missing extra)."""


class ParityError(ExportError):
    """The exported model does not match the PyTorch original closely enough; no bundle was written."""
