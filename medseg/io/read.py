"""The files of a study (``CaseFiles``) and their NIfTI headers, read before anything heavy runs.

Pixel loading itself goes through MONAI's ``LoadImaged`` (nibabel underneath) in the transform
chains; this module names *which* files make a case (``medseg.data.inputs`` turns an ``--input``
into cases) and opens their headers, which ``medseg.io.checks`` holds to the bundle's rules.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from medseg.errors import InputError

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
    # a 4D image from a manifest: which of its channels feeds each bundle modality (MSD order)
    channel_order: tuple[int, ...] | None = None

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
