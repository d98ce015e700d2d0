"""Atomic file writes: a temporary sibling is written first, then renamed over the target."""

from __future__ import annotations

import contextlib
import errno
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

from medseg.errors import OutputError


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
    try:
        yield tmp
        os.replace(tmp, target)
    except OSError as exc:
        reason = "disk full" if exc.errno == errno.ENOSPC else (exc.strerror or str(exc))
        raise OutputError(f"cannot write output ({reason}); nothing was written", target) from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


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
