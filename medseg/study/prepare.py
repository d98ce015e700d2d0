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
from medseg.io.caseid import check_case_id
from medseg.io.dicom import list_series, series_to_nifti
from medseg.io.placement import placement_problem
from medseg.io.read import CaseFiles, load_nifti_header
from medseg.locations import default_cache_dir
from medseg.modalities import ModalitySubsets
from medseg.study.brain import check_sequence_voxels
from medseg.study.identify import StudySeries, assign_sequences, check_one_patient, scan_study
from medseg.study.match import Match, MatchCheck
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
    match: Match | None = None  # how well it fits the reference once registered (None for the reference)


@dataclass(frozen=True)
class StudyCase(CaseFiles):
    """A case built from a study; ``sequences`` (bundle order) carries the registration results."""

    reference_sequence: str = ""
    sequences: tuple[AlignedSequence, ...] = field(default=(), compare=False, repr=False)
    study_folder: Path | None = None

    @property
    def source(self) -> str:
        """Messages name the user's reference series, never medseg's converted or resampled copies in the cache."""
        return next((s.series.name for s in self.sequences if s.sequence == self.reference_sequence),
                    super().source)

    @property
    def folder(self) -> str:
        return str(self.study_folder) if self.study_folder is not None else super().folder


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
    case_id = check_case_id(folder.resolve().name, folder)  # ``--input .`` is the folder's own name
    assigned = assign_sequences(scan_study(folder), options.sequences, folder)
    modalities, missing = _present(assigned, list(modalities), options.reference, subsets, folder)
    order = [options.reference, *(s for s in modalities if s != options.reference)]
    check_one_patient(((s, assigned[s]) for s in order), folder)
    natives = {s: _native(assigned[s]) for s in modalities}
    for sequence in order:
        check_sequence_voxels(natives[sequence], assigned[sequence].name, options.allow_skull)
    problem = placement_problem([assigned[s].name for s in order], [load_nifti_header(natives[s]) for s in order])
    if problem is not None:
        raise InputError(problem[1], assigned[order[problem[0]]].name)
    work = _work_dir(case_id, natives, options)
    reference = natives[options.reference]
    fixed = read_image(reference)
    matcher = MatchCheck(fixed)  # the reference sampled, and its mid-plane found, once per study
    sequences = {options.reference: AlignedSequence(options.reference, assigned[options.reference], reference,
                                                    reference, None)}
    for sequence in order[1:]:
        moving = read_image(natives[sequence])
        registration = register_rigid(fixed, moving, assigned[sequence].name, options.settings)
        match = matcher.check(moving, registration.transform, sequence, assigned[sequence].name)
        target = work / f"{case_id}_{sequence}_on_{options.reference}.nii.gz"
        aligned = write_like(to_array(resample_onto(moving, fixed, registration.transform)), reference, target)
        sequences[sequence] = AlignedSequence(sequence, assigned[sequence], natives[sequence], aligned,
                                              registration, match)
    ordered = tuple(sequences[s] for s in modalities)
    ref_series = assigned[options.reference]
    return StudyCase(case_id, tuple(s.aligned for s in ordered), dicom_series=ref_series.files, missing=missing,
                     reference_sequence=options.reference, sequences=ordered, study_folder=folder)
