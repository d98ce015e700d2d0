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


def find_modalities(folder: Path, modalities: list[str]) -> tuple[Path, ...]:
    """Pick ``*_<modality>.nii[.gz]`` for each modality from a case folder, in bundle order."""
    files = [p for p in sorted(folder.iterdir()) if is_nifti(p)]
    chosen = []
    for modality in modalities:
        pattern = re.compile(rf".*[_-]{re.escape(modality)}$", flags=re.IGNORECASE)
        hits = [p for p in files if pattern.match(strip_nifti_suffix(p.name))]
        if len(hits) != 1:
            found = ", ".join(p.name for p in files) or "no NIfTI files"
            what = "no file" if not hits else f"{len(hits)} files"
            raise InputError(f"{what} for modality '{modality}' (*_{modality}.nii.gz); found: {found}", folder)
        chosen.append(hits[0])
    return tuple(chosen)
