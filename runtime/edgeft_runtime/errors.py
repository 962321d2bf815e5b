"""The one error type the runtime raises for a bundle it cannot use, and the exit code of a bug."""

# The exit status of an unexpected error inside edgeft (a bug, not the user's input): sysexits.h's
# EX_SOFTWARE, so that a script can tell it from 1 (a problem the user can fix) and 2 (a usage
# error, which Click and argparse exit with).
EXIT_BUG = 70


class BundleError(ValueError):
    """A bundle is missing, malformed, tampered with, or from an incompatible edgeft version.

    The message names the bundle, the file or field, and what to do about it.
    """
