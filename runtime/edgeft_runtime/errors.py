"""The one error type the runtime raises for a bundle it cannot use."""


class BundleError(ValueError):
    """A bundle is missing, malformed, tampered with, or from an incompatible edgeft version.

    The message names the bundle, the file or field, and what to do about it.
    """
