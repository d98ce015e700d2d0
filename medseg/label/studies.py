"""The studies folder a label server serves: which studies it holds, what Slicer is shown, where labels go.

A study is what ``medseg infer --input`` takes: a case folder with one ``*_<sequence>.nii.gz`` per
sequence (BraTS style), or a single NIfTI image (single-modality bundles). Slicer is shown one file
per study, the reference sequence (T1ce where the study has one), and every label travels on that
file's grid. Corrected labels are written beside the studies, in MONAI Label's own layout
(``labels/final/<study>.nii.gz``); the studies themselves are only ever read.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from medseg.bundle.find import Bundle
from medseg.data.inputs import resolve_case
from medseg.errors import InputError
from medseg.io.caseid import check_unique_ids
from medseg.io.read import CaseFiles, case_id_from_path, find_present_modalities, is_nifti
from medseg.modalities import ModalitySubsets

LABELS = Path("labels")  # MONAI Label's LocalDatastore layout: labels/<tag>/<image id>.nii.gz
FINAL = "final"  # the tag of a label a person has reviewed ("Submit Label")
WORKSPACE = ".medseg-label"  # the server's own files: MONAI Label app folder, logs, served run, caches
SHOWN_FIRST = ("t1ce",)  # shown in Slicer when present: contrast-enhanced T1 is where tumour is read


@dataclass(frozen=True)
class Study:
    """One study: its id (also the id MONAI Label clients use), where it is, and the file Slicer shows."""

    id: str
    path: Path  # a case folder or a NIfTI file
    shown: Path  # the sequence Slicer displays; labels are checked against and written on its grid


class Studies:
    """The studies of one folder as a bundle reads them; rescanned on each call, so added studies appear."""

    def __init__(self, root: str | Path, bundle: Bundle) -> None:
        self.root = Path(root).resolve()
        if not self.root.is_dir():
            raise InputError("studies folder not found (give a folder of case folders or NIfTI images)", root)
        self.modalities = bundle.modalities
        self.subsets = ModalitySubsets.from_metadata(bundle.metadata)

    def scan(self) -> dict[str, Study]:
        """Every study, by id, in name order; folders with no file of the bundle's sequences are not studies."""
        found = [study for path in sorted(self.root.iterdir()) if (study := self._study(path)) is not None]
        check_unique_ids((study.id, study.path) for study in found)
        return {study.id: study for study in found}

    def get(self, study_id: str) -> Study:
        study = self.scan().get(study_id)
        if study is None:
            raise InputError(f"no study '{study_id}' in the studies folder", self.root)
        return study

    def find_shown(self, path: str | Path) -> Study | None:
        """The study whose shown file is ``path`` (MONAI Label hands tasks the image's path, not its id)."""
        target = Path(path).resolve()
        return next((study for study in self.scan().values() if study.shown == target), None)

    def case(self, study: Study) -> CaseFiles:
        """The study as ``medseg infer --input`` reads it (sequences in bundle order, missing ones allowed)."""
        return resolve_case(study.path, self.modalities, subsets=self.subsets)

    def label_path(self, study_id: str, tag: str = FINAL) -> Path:
        return self.root / LABELS / tag / f"{study_id}.nii.gz"

    @property
    def workspace(self) -> Path:
        return self.root / WORKSPACE

    def _study(self, path: Path) -> Study | None:
        if path.name.startswith(".") or path.name == LABELS.name:
            return None
        if path.is_dir():
            present = find_present_modalities(path, self.modalities)
            if not present:
                return None
            shown = next(present[m] for m in (*SHOWN_FIRST, *self.modalities) if m in present)
            return Study(case_id_from_path(path), path.resolve(), shown.resolve())
        if is_nifti(path):
            return Study(case_id_from_path(path, self.modalities), path.resolve(), path.resolve())
        return None
