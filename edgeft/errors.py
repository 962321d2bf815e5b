"""Errors a user can act on. The CLI prints their message on one line and exits non-zero."""


class EdgeftError(Exception):
    """Base class: the message names the file, line or field and says what to do."""


class DataError(EdgeftError):
    """An input data file is missing, unreadable or inconsistent."""


class ConfigError(EdgeftError):
    """A config file, option or ``--set`` override is invalid."""


class ModelError(EdgeftError):
    """A base model or run folder cannot be used."""
