"""A clinical study in, an aligned case on the reference sequence's grid out.

``prepare_study`` identifies the sequences, converts DICOM series once, checks each is brain
extracted, registers every other sequence rigidly onto the reference (T1ce unless asked otherwise)
and resamples it onto the reference grid with the reference's header copied verbatim. The result
is a ``StudyCase``: an ordinary ``CaseFiles`` (so the ``Predictor`` runs unchanged and writes the
mask natively on the reference grid, DICOM SEG included) that also carries the registrations, which
``StudyWriter`` turns into ``.tfm`` files, aligned volumes and labels on every sequence's grid.
Nothing is written to the output folder here: a study that fails any check leaves no trace there.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from medseg.errors import InputError
from medseg.io.atomic import atomic_path
from medseg.io.dicom import list_series, series_to_nifti
from medseg.io.read import CaseFiles, load_nifti_header
from medseg.locations import default_cache_dir
from medseg.modalities import ModalitySubsets
from medseg.study.brain import check_brain_extracted
from medseg.study.identify import StudySeries, assign_sequences, scan_study
from medseg.study.register import Registration, RegistrationSettings, read_image, register_rigid, resample_onto


@dataclass(frozen=True)
class StudyOptions:
    """What ``medseg infer --register`` asks for."""

    reference: str = "t1ce"
    sequences: dict[str, str] = field(default_factory=dict)  # --sequence choices: sequence → UID or path
    all_grids: bool = False
    allow_skull: bool = False
    settings: RegistrationSettings = field(default_factory=RegistrationSettings)

    def __hash__(self) -> int:
        return hash((self.reference, tuple(sorted(self.sequences.items())), self.all_grids, self.allow_skull))


@dataclass(frozen=True)
class AlignedSequence:
    """One sequence of the study: where it came from and how it was brought onto the reference."""

    sequence: str
    series: StudySeries
    native: Path  # the sequence on its own grid (NIfTI; converted once for DICOM)
    aligned: Path  # on the reference grid (the native file itself for the reference)
    registration: Registration | None  # None for the reference


@dataclass(frozen=True)
class StudyCase(CaseFiles):
    """A case built from a study; ``sequences`` (bundle order) carries the registration results."""

    reference_sequence: str = ""
    sequences: tuple[AlignedSequence, ...] = field(default=(), compare=False, repr=False)


def _native(series: StudySeries) -> Path:
    if not series.is_dicom:
        return series.path
    chosen = next(s for s in list_series(series.path) if s.uid == series.uid)
    return series_to_nifti(series.path, series.uid, selected=chosen)


def _work_dir(case_id: str, natives: dict[str, Path], options: StudyOptions) -> Path:
    """Cache folder keyed by the inputs (paths, sizes, mtimes) and the options."""
    stats = sorted((s, str(p.resolve()), p.stat().st_size, p.stat().st_mtime_ns) for s, p in natives.items())
    key = hashlib.sha256(repr((stats, options.reference, options.settings)).encode()).hexdigest()[:16]
    return default_cache_dir() / "study" / f"{case_id}-{key}"


def write_like(array: np.ndarray, reference: Path, output: Path, dtype=np.float32) -> Path:
    """``array`` (the reference's voxel order) as NIfTI with the reference's header geometry verbatim."""
    import nibabel as nib

    ref = load_nifti_header(reference)
    header = ref.header.copy()
    header.set_data_shape(array.shape)
    header.set_data_dtype(dtype)
    header.set_slope_inter(1.0, 0.0)
    with atomic_path(output) as tmp:
        nib.save(nib.Nifti1Image(np.asarray(array, dtype), ref.affine, header), str(tmp))
    return output


def to_array(image) -> np.ndarray:
    """SimpleITK image → array in the file's (i, j, k) voxel order."""
    import SimpleITK as sitk

    return sitk.GetArrayFromImage(image).transpose(2, 1, 0)


def _present(assigned: dict[str, StudySeries], modalities: list[str], reference: str,
             subsets: ModalitySubsets | None, folder: Path) -> tuple[list[str], tuple[str, ...]]:
    """(sequences to use, in bundle order; missing ones the bundle can do without), else one error line."""
    listing = "; ".join(f"{s}: {series.name}" for s, series in assigned.items()) or "no series recognised"
    found = [m for m in modalities if m in assigned]
    needed = [reference] + ([] if subsets is not None and subsets.allows_missing else modalities)
    for sequence in needed:
        if sequence not in assigned:
            raise InputError(f"no {'T1ce' if sequence == 't1ce' else sequence.upper()} series in the study "
                             f"({listing}); name it with --sequence {sequence}=<UID or file>", folder)
    if subsets is not None and subsets.allows_missing:
        try:
            return found, subsets.check(found, folder)
        except InputError as exc:
            raise InputError(f"{exc.message} (found {listing})", folder) from exc
    return found, ()


def prepare_study(folder: str | Path, modalities: list[str], options: StudyOptions | None = None,
                  subsets: ModalitySubsets | None = None) -> StudyCase:
    """Identify, convert, check, register and resample a study; see the module docstring.

    ``subsets``: the bundle's supported sequence subsets (``medseg.modalities``); without it every
    modality must be in the study.
    """
    options = options or StudyOptions()
    folder = Path(folder)
    assigned = assign_sequences(scan_study(folder), options.sequences, folder)
    modalities, missing = _present(assigned, list(modalities), options.reference, subsets, folder)
    natives = {s: _native(assigned[s]) for s in modalities}
    if not options.allow_skull:
        for sequence in modalities:
            check_brain_extracted(natives[sequence], assigned[sequence].name)
    case_id = folder.name
    work = _work_dir(case_id, natives, options)
    reference = natives[options.reference]
    fixed = read_image(reference)
    registrations = {s: register_rigid(fixed, read_image(natives[s]), assigned[s].name, options.settings)
                     for s in modalities if s != options.reference}
    sequences = []
    for sequence in modalities:
        registration = registrations.get(sequence)
        aligned = reference
        if registration is not None:
            moved = resample_onto(read_image(natives[sequence]), fixed, registration.transform)
            target = work / f"{case_id}_{sequence}_on_{options.reference}.nii.gz"
            aligned = write_like(to_array(moved), reference, target)
        sequences.append(AlignedSequence(sequence, assigned[sequence], natives[sequence], aligned, registration))
    ref_series = assigned[options.reference]
    return StudyCase(case_id, tuple(s.aligned for s in sequences), dicom_series=ref_series.files, missing=missing,
                     reference_sequence=options.reference, sequences=tuple(sequences))
