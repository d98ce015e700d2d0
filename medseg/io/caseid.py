"""Case ids become output file names, so one rule decides what an id may be.

Every place that derives an id (``medseg infer`` inputs, manifests, ``medseg data import``,
``medseg evaluate`` pairing) passes it through ``check_case_id``: an id is one path component
that cannot climb out of an output folder (``../x``), land somewhere absolute, or hide (``.``).
Two cases with one id would overwrite each other's outputs, so ``check_unique_ids`` refuses
that before anything is written.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from medseg.errors import InputError

_FORBIDDEN = ("/", "\\", "\0")


def case_id_problem(case_id: object) -> str | None:
    """Why ``case_id`` cannot name output files, or ``None`` when it can."""
    if not isinstance(case_id, str) or not case_id.strip():
        return f"case id {case_id!r} is empty or not a string"
    if case_id != case_id.strip():
        return f"case id {case_id!r} starts or ends with white space"
    if any(ch in case_id for ch in _FORBIDDEN) or any(ord(ch) < 32 for ch in case_id):
        return f"case id {case_id!r} is not a plain file name (no path separators or control characters)"
    if case_id.startswith("."):
        return f"case id {case_id!r} starts with '.' (it would name hidden files or leave the output folder)"
    return None


def check_case_id(case_id: object, source: str | Path | None) -> str:
    """``case_id`` unchanged when it can name output files; else an ``InputError`` naming ``source``."""
    problem = case_id_problem(case_id)
    if problem:
        raise InputError(problem, source)
    return str(case_id)


def check_unique_ids(pairs: Iterable[tuple[str, str | Path]], where: str | Path | None = None) -> None:
    """Refuse two cases with the same id (``pairs``: id and where it came from), before any output."""
    seen: dict[str, str | Path] = {}
    for case_id, source in pairs:
        if case_id in seen:
            first = seen[case_id]
            detail = f" ({first} and {source})" if str(first) != str(source) else ""
            raise InputError(f"two cases have the id '{case_id}'{detail}; their outputs would overwrite each "
                             "other (give each case a unique id)", where or source)
        seen[case_id] = source
