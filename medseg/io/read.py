"""The files of a study (``CaseFiles``) and their NIfTI headers, read before anything heavy runs.

Pixel loading itself goes through MONAI's ``LoadImaged`` (nibabel underneath) in the transform
chains; this module names *which* files make a case (``medseg.data.inputs`` turns an ``--input``
into cases) and opens their headers, which ``medseg.io.checks`` holds to the bundle's rules.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from medseg.errors import InputError, warn
from medseg.io.caseid import check_case_id
from medseg.io.placement import placement_problem

NIFTI_SUFFIXES = (".nii.gz", ".nii")
AFFINE_TOLERANCE = 1e-4
MIN_VOXELS = 8  # per axis: below this a network sees no anatomy (a thumbnail, a 2-slice slab), only padding


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

    def __post_init__(self) -> None:  # the id names output files: checked wherever a case is made
        check_case_id(self.case_id, self.images[0] if self.images else None)

    @property
    def reference(self) -> Path:
        """The file whose grid every output must match (the first modality)."""
        return self.images[0]

    @property
    def source(self) -> str:
        """How a message about the case's images names them: the reference file (a study: the user's series)."""
        return str(self.reference)

    @property
    def folder(self) -> str:
        """How a message about the whole case names it: the reference's folder (a study: the study folder)."""
        return str(self.reference.parent)


def case_id_from_path(path: str | Path, modalities: list[str] | tuple[str, ...] = ()) -> str:
    """``Brats_001_t1.nii.gz`` → ``Brats_001``; ``case7_seg.nii.gz`` → ``case7``; folders keep their name."""
    path = Path(path)
    if path.is_dir():
        return check_case_id(path.resolve().name, path)  # resolved: ``--input .`` is the folder's name
    stem = strip_nifti_suffix(path.name)
    for suffix in ("seg", "label", *modalities):
        match = re.fullmatch(rf"(.+?)[_-]{re.escape(suffix)}", stem, flags=re.IGNORECASE)
        if match:
            return check_case_id(match.group(1), path)
    return check_case_id(stem, path)


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


def check_study_size(shape: tuple[int, ...], path: str | Path) -> None:
    """Refuse a study with fewer than ``MIN_VOXELS`` along an axis (3 x 3 x 3, a 2-slice slab) before inference:
    the network would see only padding and label it anyway (a 3 x 3 x 3 study came out all tumour)."""
    if shape and min(shape) < MIN_VOXELS:
        raise InputError(f"image is only {' x '.join(map(str, shape))} voxels; at least {MIN_VOXELS} per axis are "
                         "needed to segment it (a thumbnail or a slab of a few slices is not a study)", path)


def check_unusual_headers(paths: tuple[Path, ...], headers: list, spatial_dims: int) -> None:
    """Headers that load but cannot be segmented as they are (errors), or that viewers read differently (warnings).

    * 5D files (X, Y, Z, 1, C: the NIfTI vector convention) and anything beyond: one clear line.
    * Negative pixdim: nibabel silently takes the absolute values, so the qform may not be what the writer
      meant (a warning, once per file).
    * Modalities whose sforms agree but qforms differ: refused, since nibabel uses the sform, 3D Slicer and
      ITK the qform, and MONAI's loader rectifies each header on its own, so they would not line up.
    * Modalities that nibabel, 3D Slicer or ITK would relate differently (``medseg.io.placement``: e.g. one
      file with a shifted qform that Slicer reads among files that all read their sforms): refused.
    """
    for path, header in zip(paths, headers):
        shape = tuple(int(s) for s in header.shape)
        if len(shape) > 4:
            raise InputError(f"{len(shape)}D NIfTI (shape {shape}); medseg reads 3D volumes or 4D (X, Y, Z, channels) "
                             "stacks: drop the empty axes first (e.g. numpy.squeeze)", path)
        pixdim = _raw_pixdim(path, type(header.header))
        if np.any(pixdim < 0):
            warn(f"negative voxel sizes in the header (pixdim {pixdim.tolist()}); read as their absolute values "
                 "(nibabel does the same): check the orientation of the mask in your viewer", path)
    ref = headers[0]
    for path, header in zip(paths[1:], headers[1:]):
        same_sform = np.allclose(header.get_sform(), ref.get_sform(), atol=AFFINE_TOLERANCE)
        if same_sform and int(header.header["qform_code"]) > 0 and int(ref.header["qform_code"]) > 0 \
                and not np.allclose(header.get_qform(), ref.get_qform(), atol=AFFINE_TOLERANCE):
            raise InputError(f"its qform differs from {paths[0].name} while the sforms agree: 3D Slicer and ITK "
                             "(qform) and nibabel (sform) would place the modalities differently; give every "
                             "modality the same qform (e.g. nibabel: img.set_qform(img.get_sform()))", path)
    problem = placement_problem([p.name for p in paths], headers)
    if problem is not None:
        raise InputError(problem[1], paths[problem[0]])


def _raw_pixdim(path: Path, header_class) -> np.ndarray:
    """The voxel sizes as stored (``nib.load`` already replaced negative ones by their absolute values)."""
    from nibabel.openers import ImageOpener

    with ImageOpener(str(path)) as handle:
        return np.asarray(header_class.from_fileobj(handle, check=False)["pixdim"][1:4], float)
