"""One exception family, caught once in the CLI and printed as a single line."""

from __future__ import annotations

from pathlib import Path


class MedsegError(Exception):
    """A problem the user can fix; ``path`` names the offending file when there is one."""

    exit_code = 1

    def __init__(self, message: str, path: str | Path | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.path = None if path is None else str(path)

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class InputError(MedsegError):
    """An input image, label or manifest is missing, unreadable or inconsistent."""


class UsageError(InputError):
    """Options that do not fit together, or would change nothing for this call: the CLI shows it as a usage
    error (exit status 2, as click's own)."""

    exit_code = 2


class BundleError(MedsegError):
    """A bundle cannot be found, or its configs/metadata are invalid."""


class CheckpointError(MedsegError):
    """A checkpoint cannot be loaded safely or does not fit the network."""


class OutputError(MedsegError):
    """An output cannot be written where it was asked for."""


class TrainingStopped(MedsegError):
    """Training stopped on SIGINT/SIGTERM after writing a checkpoint; ``--resume`` continues it."""

    exit_code = 130


class InferenceStopped(MedsegError):
    """Inference stopped on SIGINT/SIGTERM after the current case's files; the cases done are complete."""

    exit_code = 130


def find_medseg_error(exc: BaseException | None) -> MedsegError | None:
    """The ``MedsegError`` behind ``exc``, if any.

    MONAI wraps errors raised inside transforms and config components in ``RuntimeError``
    (``applying transform ...``, ``Failed to instantiate component ...``); the user's problem is
    the original error, so it is dug out of the ``__cause__``/``__context__`` chain.
    """
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, MedsegError):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None


class MedsegWarning(Warning):
    """Something the user should know (a partial DICOM series); shown even where UserWarnings are not."""


def warn(problem: str, path: str | Path | None = None) -> None:
    """Issue a ``MedsegWarning`` that the CLI prints as ``medseg: warning: <file>: <problem>``."""
    import warnings

    warnings.warn(f"{path}: {problem}" if path is not None else problem, MedsegWarning, stacklevel=3)
