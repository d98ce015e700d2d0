"""Atomic file writes: a temporary sibling is written first, then renamed over the target."""

from __future__ import annotations

import contextlib
import contextvars
import errno
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

from medseg.errors import OutputError

# Inside ``atomic_set``: the (temporary, target) pairs written so far, renamed together at the end.
_PENDING: contextvars.ContextVar[list[tuple[Path, Path]] | None] = contextvars.ContextVar("medseg_pending",
                                                                                          default=None)


@contextlib.contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success rename it onto ``target``.

    The temporary name keeps the target's suffixes (``.nii.gz``) so writers that infer the format
    from the name still work. On any error the temporary file is removed, so a reader never sees a
    half-written output.
    """
    target = Path(target)
    prepare_output_dir(target.parent)
    tmp = target.parent / f".tmp-{uuid.uuid4().hex[:8]}-{target.name}"
    pending = _PENDING.get()
    try:
        yield tmp
        if pending is not None:  # renamed with the rest of its set (``atomic_set``)
            pending.append((tmp, target))
            return
        os.replace(tmp, target)
    except OSError as exc:
        raise _write_error(exc, target, pending is not None) from exc
    finally:
        if pending is None or (tmp, target) not in pending:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()


def _write_error(exc: OSError, target: Path, in_set: bool = False) -> OutputError:
    reason = "disk full" if exc.errno == errno.ENOSPC else (exc.strerror or str(exc))
    what = "no file of this case was kept" if in_set else "nothing was written"
    return OutputError(f"cannot write output ({reason}); {what}", target)


@contextlib.contextmanager
def atomic_set() -> Iterator[None]:
    """Every ``atomic_path`` write inside appears together at the end, or none of them does.

    A case's outputs (label map, Slicer segmentation, measurements, DICOM SEG) are one result: a
    failure in the third writer (a full disk) must not leave the first two behind. Files stay
    temporary until the block ends, then are renamed one after the other; on any failure every
    temporary file, and every target already renamed, is removed.
    """
    pending: list[tuple[Path, Path]] = []
    token = _PENDING.set(pending)
    try:
        yield
    except BaseException:
        _remove(tmp for tmp, _ in pending)
        raise
    finally:
        _PENDING.reset(token)
    renamed: list[Path] = []
    try:
        for tmp, target in pending:
            os.replace(tmp, target)
            renamed.append(target)
    except BaseException as exc:  # a full disk, or a second Ctrl-C halfway: none of the set stays
        _remove([*renamed, *(tmp for tmp, _ in pending)])
        if isinstance(exc, OSError):
            raise _write_error(exc, target, True) from exc
        raise


def staged(target: str | Path) -> Path:
    """Where ``target``'s newest content is: its pending temporary inside ``atomic_set`` (a later writer
    of the same case amends an earlier one's file before anything is renamed), else ``target`` itself."""
    for tmp, final in reversed(_PENDING.get() or []):
        if Path(final) == Path(target):
            return Path(tmp)
    return Path(target)


def _remove(paths) -> None:
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            Path(path).unlink()


def prepare_output_dir(folder: str | Path) -> Path:
    """Create an output folder up front, so an unwritable destination fails before any work is done."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as exc:
        raise OutputError("cannot create output directory (a file is in the way)", folder) from exc
    except OSError as exc:
        raise OutputError(f"cannot create output directory ({exc.strerror})", folder) from exc
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError("output directory is not writable", folder)
    return folder


def copy_file_atomic(source: str | Path, target: str | Path) -> Path:
    """Copy a file so the target is either absent or complete."""
    import shutil

    with atomic_path(target) as tmp:
        shutil.copyfile(source, tmp)
    return Path(target)


def write_text_atomic(target: str | Path, text: str) -> Path:
    """Write a small text file atomically."""
    with atomic_path(target) as tmp:
        tmp.write_text(text)
    return Path(target)


def ensure_not_input(output: str | Path, inputs: list[str | Path]) -> None:
    """Refuse to write over an input file."""
    out = Path(output).resolve()
    for item in inputs:
        if Path(item).resolve() == out:
            raise OutputError("output path is one of the inputs; refusing to overwrite it", output)


def ensure_not_beside_input(output: str | Path, inputs: list[str | Path]) -> None:
    """Refuse to replace an existing file in a study's own folder.

    A case folder often holds its ground truth (``Brats_001_seg.nii.gz``) under the very name a
    prediction would take, so predictions never replace files beside their inputs.
    """
    ensure_not_input(output, inputs)
    out = Path(output).resolve()
    if out.exists() and out.parent in {Path(item).resolve().parent for item in inputs}:
        raise OutputError("a file of this name is already in the input folder; refusing to overwrite it "
                          "(choose another --output-dir)", output)
