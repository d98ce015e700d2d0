"""Which series of a study is T1, T1ce, T2 or FLAIR.

A study folder holds NIfTI files, DICOM series folders, or DICOM files of several series mixed.
Each series is classified from its text (DICOM SeriesDescription and ProtocolName, or the NIfTI
file name) and, for DICOM, the contrast agent and timing attributes, through the rules kept as
data in ``medseg/data/sequences.json``. ``--sequence t1ce=UID|PATH`` overrides the guess; two
series claiming one sequence without such a choice is an error, never a silent pick, and so is one
series (the same file, the same SeriesInstanceUID, or byte-identical files) given as two sequences.
DICOM series also carry who and which visit they are (PatientID, StudyInstanceUID): series of two
patients or two studies are never combined into one case (``check_one_patient``). NIfTI files carry
no such identity; for them only the registration's match check (``medseg.study.match``) stands
between a scan of another patient and the mask.
"""

from __future__ import annotations

import filecmp
import functools
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from medseg.errors import InputError
from medseg.io.dicom import is_dicom_folder, list_series
from medseg.io.read import is_nifti, strip_nifti_suffix

RULES_FILE = Path(__file__).resolve().parents[1] / "data" / "sequences.json"
SEQUENCES = ("t1", "t1ce", "t2", "flair")


@functools.cache
def rules() -> dict:
    return json.loads(RULES_FILE.read_text())


@dataclass(frozen=True)
class StudySeries:
    """One series of a study: a NIfTI file, or a DICOM series (its folder and SeriesInstanceUID)."""

    path: Path  # the NIfTI file, or the folder holding the DICOM series
    uid: str = ""  # SeriesInstanceUID (DICOM only)
    text: str = ""  # what it is called: description and protocol, or the file name
    contrast_agent: str = ""
    echo_time: float | None = None
    inversion_time: float | None = None
    files: tuple[Path, ...] = ()  # DICOM slice files
    patient_id: str = ""  # DICOM PatientID
    study_uid: str = ""  # DICOM StudyInstanceUID

    @property
    def is_dicom(self) -> bool:
        return bool(self.files)

    @property
    def name(self) -> str:
        """How errors name it: the file, or ``<folder> series <UID> ('<description>')``."""
        return f"{self.path} series {self.uid} ('{self.text}')" if self.is_dicom else str(self.path)

    def matches(self, choice: str) -> bool:
        """``--sequence`` value: a SeriesInstanceUID, a file path, or a file name."""
        if self.is_dicom:
            return choice == self.uid
        return choice == self.path.name or Path(choice).resolve() == self.path.resolve()


def _words(text: str) -> str:
    """Lower-case words separated by single spaces; ``+`` kept so ``T1+C`` and ``C+`` survive."""
    text = re.sub(r"(?<=[a-z])(?=\d)|(?<=\d)(?=[a-z]{2})", " ", text.lower().replace("_", " "))
    return " " + " ".join(re.findall(r"[a-z0-9+]+", text)) + " "


def _has(words: str, phrases: list[str]) -> bool:
    return any(f" {_words(p).strip()} " in words or (p.startswith("+") or p.endswith("+")) and p in words
               for p in phrases)


def classify(series: StudySeries) -> str | None:
    """``t1``, ``t1ce``, ``t2``, ``flair`` or None (a series no rule claims, e.g. a localiser or DWI)."""
    data = rules()
    # "t1ce" splits into "t1 ce", so the dedicated T1ce phrases are tested on the raw text too.
    words, raw = _words(series.text), " " + " ".join(re.findall(r"[a-z0-9+]+", series.text.lower())) + " "
    if _has(words, data["flair"]["phrases"]) or _has(raw, data["flair"]["phrases"]):
        return "flair"
    t1ce = data["t1ce"]
    if _has(raw, t1ce["phrases"]) or _has(words, t1ce["phrases"]):
        return "t1ce"
    if _has(words, data["t1"]["phrases"]) or _has(raw, data["t1"]["phrases"]):
        contrast = _has(words, t1ce["contrast_phrases"]) or bool(series.contrast_agent.strip())
        return "t1ce" if contrast and not _has(words, t1ce["precontrast_phrases"]) else "t1"
    if _has(words, data["t2"]["phrases"]) or _has(raw, data["t2"]["phrases"]):
        return "t2"
    timing = data["flair"]["attributes"]
    if (series.inversion_time or 0) >= timing["InversionTime_min_ms"] and (series.echo_time or 0) >= timing[
            "EchoTime_min_ms"]:
        return "flair"
    return None


def scan_study(folder: str | Path) -> list[StudySeries]:
    """Every series in a study folder: its NIfTI files, and DICOM series in it or in its sub-folders."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError("expected a study folder (NIfTI files or DICOM series folders)", folder)
    found = [StudySeries(p, text=strip_nifti_suffix(p.name)) for p in sorted(folder.iterdir()) if is_nifti(p)]
    for sub in [folder, *sorted(p for p in folder.rglob("*") if p.is_dir())]:
        if is_dicom_folder(sub):
            found.extend(_dicom_series(sub, series) for series in list_series(sub))
    if not found:
        raise InputError("no NIfTI files or DICOM series found in the study folder", folder)
    return found


def _dicom_series(folder: Path, series) -> StudySeries:
    import pydicom

    ds = pydicom.dcmread(series.files[0], stop_before_pixels=True)

    def number(keyword: str) -> float | None:
        value = ds.get(keyword)
        try:
            return float(value) if value not in (None, "") else None
        except (TypeError, ValueError):
            return None

    def text(keyword: str) -> str:
        return str(ds.get(keyword, "") or "").strip()

    description = " ".join(dict.fromkeys(text(k) for k in ("SeriesDescription", "ProtocolName"))).strip()
    return StudySeries(folder, series.uid, description, text("ContrastBolusAgent"), number("EchoTime"),
                       number("InversionTime"), series.files, text("PatientID"), text("StudyInstanceUID"))


def assign_sequences(found: list[StudySeries], choices: dict[str, str] | None = None,
                     folder: str | Path | None = None) -> dict[str, StudySeries]:
    """One series per sequence: ``choices`` (sequence → UID or path) first, then the classification.

    Two series claiming one sequence, or a choice that names no series, is an error listing them.
    """
    choices = dict(choices or {})
    assigned: dict[str, StudySeries] = {}
    for sequence, choice in choices.items():
        if sequence not in SEQUENCES:
            raise InputError(f"--sequence {sequence}=...: unknown sequence (one of {', '.join(SEQUENCES)})", folder)
        hits = [s for s in found if s.matches(choice)]
        if not hits:
            listing = "; ".join(s.name for s in found)
            raise InputError(f"--sequence {sequence}={choice}: no such series in the study (found: {listing})", folder)
        assigned[sequence] = hits[0]
    taken = {id(s) for s in assigned.values()}
    candidates: dict[str, list[StudySeries]] = {}
    for series in found:
        sequence = classify(series)
        if sequence is not None and sequence not in assigned and id(series) not in taken:
            candidates.setdefault(sequence, []).append(series)
    for sequence, hits in candidates.items():
        if len(hits) > 1:
            what = " and ".join(s.name for s in hits)
            raise InputError(f"{len(hits)} candidate series for {sequence}: {what}; choose one with "
                             f"--sequence {sequence}=<{'UID' if hits[0].is_dicom else 'file'}>", folder)
        assigned[sequence] = hits[0]
    check_distinct(assigned, choices, folder)
    return assigned


def _same_series(a: StudySeries, b: StudySeries) -> str:
    """How two series are one scan (``""`` when they are not): one file, one UID, or identical bytes."""
    if a.is_dicom and b.is_dicom:
        return "the same series UID" if a.uid == b.uid else ""
    if a.is_dicom or b.is_dicom:
        return ""
    if a.path.resolve() == b.path.resolve():
        return "the same file"
    try:
        identical = a.path.stat().st_size == b.path.stat().st_size and filecmp.cmp(a.path, b.path, shallow=False)
    except OSError:  # unreadable: the reader names it later
        identical = False
    return "byte-identical files" if identical else ""


def check_distinct(assigned: dict[str, StudySeries], choices: dict[str, str],
                   folder: str | Path | None = None) -> None:
    """Refuse one scan given as two sequences (``--sequence t1=X --sequence t1ce=X``, or a copied file):
    the network would read it twice while the real sequence lies unused."""
    items = list(assigned.items())
    for i, (first, a) in enumerate(items):
        for second, b in items[i + 1:]:
            how = _same_series(a, b)
            if how:
                named = " and ".join(f"--sequence {s}={choices[s]}" for s in (first, second) if s in choices)
                raise InputError(f"{first} ({a.name}) and {second} ({b.name}) are {how}: one scan cannot be two "
                                 f"sequences{f' ({named})' if named else ''}; give each sequence its own series",
                                 folder)


def check_one_patient(series: Iterable[tuple[str, StudySeries]], folder: str | Path | None = None) -> None:
    """Refuse DICOM series of different patients (PatientID) or studies (StudyInstanceUID) in one case,
    naming both; NIfTI files carry neither and are not compared."""
    first: tuple[str, StudySeries] | None = None
    for sequence, item in series:
        if not item.is_dicom:
            continue
        if first is None:
            first = (sequence, item)
            continue
        other_sequence, other = first
        for what, key in (("patient", "patient_id"), ("study", "study_uid")):
            mine, theirs = getattr(item, key), getattr(other, key)
            if mine != theirs:
                label = "PatientID" if key == "patient_id" else "StudyInstanceUID"
                raise InputError(f"{sequence} ({item.name}) is from another {what} than {other_sequence} "
                                 f"({other.name}): {label} '{mine}' vs '{theirs}'; one case takes the series of "
                                 "one patient's study", folder)
