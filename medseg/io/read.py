"""Find and check the files of a study before anything heavy runs.

Pixel loading itself goes through MONAI's ``LoadImaged`` (nibabel underneath) in the transform
chains; this module resolves *which* files make a case and checks their headers up front, so a
bad study fails with one line naming the file instead of a stack trace deep in a transform.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from medseg.errors import InputError
from medseg.io.dicom import is_dicom_folder, select_series, series_to_nifti
from medseg.io.xray import check_xray_case, is_xray_file

NIFTI_SUFFIXES = (".nii.gz", ".nii")
AFFINE_TOLERANCE = 1e-4


def strip_nifti_suffix(name: str) -> str:
    for suffix in NIFTI_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return Path(name).stem


def is_nifti(path: str | Path) -> bool:
    return str(path).endswith(NIFTI_SUFFIXES)


def load_nifti_header(path: str | Path):
    """Open a NIfTI lazily (header only), with one clear error for anything unreadable."""
    import nibabel as nib

    path = Path(path)
    if not path.is_file():
        raise InputError("file not found", path)
    try:
        image = nib.load(str(path))
    except nib.filebasedimages.ImageFileError as exc:  # its message only repeats the path
        raise InputError("not a readable NIfTI file (another format, or a truncated header)", path) from exc
    except Exception as exc:  # nibabel raises many types for corrupt files
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise InputError(f"not a readable NIfTI file ({type(exc).__name__}: {reason})", path) from exc
    if not isinstance(image, nib.Nifti1Image | nib.Nifti2Image):
        raise InputError(f"expected a NIfTI image, got {type(image).__name__}", path)
    return image


@dataclass(frozen=True)
class CaseFiles:
    """The files of one study: one per modality (or one 4D file) and the geometry reference."""

    case_id: str
    images: tuple[Path, ...]
    label: Path | tuple[Path, ...] | None = None  # a tuple: one mask file per structure (stacked as channels)
    # a case read from a DICOM series: its slice files, so outputs (DICOM SEG) can reference the source instances
    dicom_series: tuple[Path, ...] = field(default=(), repr=False)
    # bundle modalities the study lacks (``images`` holds the others, in bundle order); see medseg.modalities
    missing: tuple[str, ...] = ()

    @property
    def reference(self) -> Path:
        """The file whose grid every output must match (the first modality)."""
        return self.images[0]


def case_id_from_path(path: str | Path, modalities: list[str] | tuple[str, ...] = ()) -> str:
    """``Brats_001_t1.nii.gz`` → ``Brats_001``; ``case7_seg.nii.gz`` → ``case7``; folders keep their name."""
    path = Path(path)
    if path.is_dir():
        return path.name
    stem = strip_nifti_suffix(path.name)
    for suffix in ("seg", "label", *modalities):
        match = re.fullmatch(rf"(.+?)[_-]{re.escape(suffix)}", stem, flags=re.IGNORECASE)
        if match:
            return match.group(1)
    return stem


def find_present_modalities(folder: Path, modalities: list[str]) -> dict[str, Path]:
    """``*_<modality>.nii[.gz]`` for each modality a case folder has (several matches are an error)."""
    files = [p for p in sorted(folder.iterdir()) if is_nifti(p)]
    found = {}
    for modality in modalities:
        pattern = re.compile(rf".*[_-]{re.escape(modality)}$", flags=re.IGNORECASE)
        hits = [p for p in files if pattern.match(strip_nifti_suffix(p.name))]
        if len(hits) > 1:
            names = ", ".join(p.name for p in hits)
            raise InputError(f"{len(hits)} files for modality '{modality}' (*_{modality}.nii.gz): {names}", folder)
        if hits:
            found[modality] = hits[0]
    return found


def find_modalities(folder: Path, modalities: list[str]) -> tuple[Path, ...]:
    """Pick ``*_<modality>.nii[.gz]`` for each modality from a case folder, in bundle order."""
    found = find_present_modalities(folder, modalities)
    for modality in modalities:
        if modality not in found:
            names = ", ".join(p.name for p in sorted(folder.iterdir()) if is_nifti(p)) or "no NIfTI files"
            raise InputError(f"no file for modality '{modality}' (*_{modality}.nii.gz); found: {names}", folder)
    return tuple(found[m] for m in modalities)


def find_case_modalities(folder: Path, subsets) -> tuple[tuple[Path, ...], tuple[str, ...]]:
    """The files a case folder has, in bundle order, and the missing modalities the bundle can do without.

    ``subsets`` is the bundle's ``medseg.modalities.ModalitySubsets``; a bundle that needs every
    modality gets ``find_modalities``'s error naming the first missing file.
    """
    modalities = list(subsets.modalities)
    if not subsets.allows_missing:
        return find_modalities(folder, modalities), ()
    found = find_present_modalities(folder, modalities)
    if not found:
        return find_modalities(folder, modalities), ()  # names what was looked for and what is there
    missing = subsets.check(found, folder)
    return tuple(found[m] for m in modalities if m in found), missing


def resolve_case(path: str | Path, modalities: list[str], series: str | None = None, subsets=None) -> CaseFiles:
    """A case folder (one file per modality), a DICOM series folder, a 4D NIfTI, or a single-modality NIfTI.

    A DICOM series (``series``: its SeriesInstanceUID when the folder holds several) is converted
    once to a cached NIfTI on the scanner grid, which then stands for the study. With ``subsets``
    (``medseg.modalities.ModalitySubsets``) a case folder may lack the sequences the bundle can do without.
    """
    path = Path(path)
    if path.is_dir():
        if not any(is_nifti(p) for p in path.iterdir()) and is_dicom_folder(path):
            chosen = select_series(path, series)
            return CaseFiles(path.name, (series_to_nifti(path, series, selected=chosen),), dicom_series=chosen.files)
        if subsets is not None:
            images, missing = find_case_modalities(path, subsets)
            return CaseFiles(path.name, images, missing=missing)
        return CaseFiles(path.name, find_modalities(path, modalities))
    if not path.exists():
        raise InputError("input not found", path)
    if not is_nifti(path):
        if is_xray_file(path):
            return CaseFiles(case_id_from_path(path, modalities), (path,))
        raise InputError("expected a case folder, a .nii/.nii.gz file or an X-ray (DICOM, PNG, JPEG)", path)
    return CaseFiles(case_id_from_path(path, modalities), (path,))


def check_case_headers(case: CaseFiles, num_channels: int, spatial_dims: int = 3) -> tuple[int, ...]:
    """Header-level checks: readable, same grid across modalities, right channel count.

    Returns the spatial shape of the case. X-rays (DICOM, PNG, JPEG) are checked by ``medseg.io.xray``.
    """
    if not is_nifti(case.reference):
        return check_xray_case(case, num_channels, spatial_dims)
    headers = [load_nifti_header(p) for p in case.images]
    ref = headers[0]
    ref_shape = tuple(int(s) for s in ref.shape[:spatial_dims])
    if len(ref.shape) < spatial_dims or (spatial_dims == 3 and min(ref.shape[:3]) == 1):
        raise InputError(f"image is 2D (shape {tuple(ref.shape)}), the bundle needs 3D volumes", case.reference)
    if spatial_dims == 2 and len(ref.shape) >= 3 and ref.shape[2] > 1:
        raise InputError(f"image is 3D (shape {tuple(ref.shape)}), the bundle needs 2D images (X x Y x 1)",
                         case.reference)
    channels = 0
    for path, header in zip(case.images, headers):
        shape = tuple(int(s) for s in header.shape)
        if shape[:spatial_dims] != ref_shape:
            raise InputError(f"shape {shape[:spatial_dims]} differs from {case.reference.name} {ref_shape} "
                             "(sequences on their own grids: use medseg infer --register)", path)
        if not np.allclose(header.affine, ref.affine, atol=AFFINE_TOLERANCE):
            raise InputError(f"affine differs from {case.reference.name} (modalities must be co-registered; "
                             "medseg infer --register registers them)", path)
        channels += int(np.prod(shape[spatial_dims:], dtype=int))
    if channels != num_channels:
        raise InputError(
            f"found {channels} image channel(s), the bundle needs {num_channels}", case.reference
        )
    if case.label is not None:
        label = load_nifti_header(case.label)
        if tuple(label.shape[:spatial_dims]) != ref_shape or not np.allclose(
            label.affine, ref.affine, atol=AFFINE_TOLERANCE
        ):
            raise InputError(f"label grid {tuple(label.shape)} differs from the image grid {ref_shape}", case.label)
    return ref_shape
