"""One exception family, caught once in the CLI and printed as a single line."""

from __future__ import annotations

from pathlib import Path


class MedsegError(Exception):
    """A problem the user can fix; ``path`` names the offending file when there is one."""

    def __init__(self, message: str, path: str | Path | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.path = None if path is None else str(path)

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class InputError(MedsegError):
    """An input image, label or manifest is missing, unreadable or inconsistent."""


class BundleError(MedsegError):
    """A bundle cannot be found, or its configs/metadata are invalid."""


class CheckpointError(MedsegError):
    """A checkpoint cannot be loaded safely or does not fit the network."""


class OutputError(MedsegError):
    """An output cannot be written where it was asked for."""


class MedsegWarning(Warning):
    """Something the user should know (a partial DICOM series); shown even where UserWarnings are not."""
