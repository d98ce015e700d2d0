"""``medseg data check``: every problem of every case of a manifest, against the bundle it must fit."""

from __future__ import annotations

from pathlib import Path

from medseg.data.check import Problem, check_dataset


def check_data(manifest: str | Path, bundle: str | Path | None = None, deep: bool = False,
               data_root: str | Path | None = None) -> tuple[list[Problem], list[Problem]]:
    """Every problem of every case of ``manifest`` for ``bundle`` (default: the bundle the manifest names;
    ``deep``: every voxel read), and notes."""
    notes: list[Problem] = []
    problems = check_dataset(manifest, bundle, deep=deep, data_root=data_root, notes=notes)
    return problems, notes
