"""DICOM series in: a folder of CT/MR slices becomes one volume with its exact scanner geometry.

pydicom reads the headers (fast, no pixels) to group files by SeriesInstanceUID, order slices
along the slice normal and refuse what cannot be one regular grid (mixed orientations, duplicate
or missing slices, uneven spacing). SimpleITK's ``ImageSeriesReader`` then decodes the ordered
files. The volume is written once as NIfTI (cached, keyed by the files' sizes and mtimes) in the
dcm2niix convention (LPS→RAS, rows flipped), so the rest of medseg, and every output mask,
works on that grid.
"""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from medseg.errors import InputError, MedsegWarning
from medseg.io.atomic import atomic_path
from medseg.locations import default_cache_dir

SPACING_TOLERANCE = 0.01  # relative deviation of one gap from the median gap


@dataclass(frozen=True)
class Series:
    """The slices of one series, ordered along the slice normal."""

    uid: str
    modality: str
    description: str
    files: tuple[Path, ...]
    positions: tuple[float, ...]
    instances: tuple[int, ...]
    problem: str = ""  # why the slices cannot make one regular grid (tilt, mixed pixel sizes); see check_series

    def summary(self) -> str:
        return f"{self.uid or '(no SeriesInstanceUID)'} ({self.modality} '{self.description}', {len(self.files)} files)"


def is_dicom_file(path: Path) -> bool:
    """DICOM Part 10 files carry ``DICM`` after a 128-byte preamble; bare ``.dcm`` files count too."""
    if not path.is_file():
        return False
    if path.suffix.lower() == ".dcm":
        return True
    with path.open("rb") as handle:
        return handle.read(132)[128:] == b"DICM"


def is_dicom_folder(path: Path) -> bool:
    return path.is_dir() and any(is_dicom_file(p) for p in sorted(path.iterdir())[:20])


def list_series(folder: str | Path) -> list[Series]:
    """Every series in ``folder`` (headers only), each with its slices in spatial order."""
    import pydicom

    folder = Path(folder).resolve()  # one identity for a series however it was reached (symlinked data roots)
    groups: dict[str, list] = {}
    for path in sorted(p for p in folder.iterdir() if is_dicom_file(p)):
        try:
            ds = pydicom.dcmread(path, stop_before_pixels=True)
        except Exception as exc:  # noqa: BLE001 - pydicom raises many types for broken files
            raise InputError(f"not a readable DICOM file ({type(exc).__name__}: {exc})", path) from exc
        if "Rows" not in ds:
            continue  # not an image (structured report, presentation state ...)
        groups.setdefault(str(ds.get("SeriesInstanceUID", "")), []).append((path, ds))
    if not groups:
        raise InputError("no DICOM image files found", folder)
    return [_ordered(uid, slices) for uid, slices in sorted(groups.items())]


def _ordered(uid: str, slices: list) -> Series:
    first = slices[0][1]
    if any("ImageOrientationPatient" not in ds or "ImagePositionPatient" not in ds for _, ds in slices):
        files = tuple(p for p, _ in slices)
        return Series(uid, str(first.get("Modality", "")), str(first.get("SeriesDescription", "")), files,
                      (), tuple(int(ds.get("InstanceNumber", 0) or 0) for _, ds in slices),
                      "slices without a patient position/orientation (projection X-rays, CR/DX?) are not a volume; "
                      "a 2D bundle such as chest_xray segments them one by one")
    orientations = {tuple(np.round(np.asarray(ds.ImageOrientationPatient, float), 4)) for _, ds in slices}
    if len(orientations) != 1:
        raise InputError(f"series {uid or '(no UID)'} mixes {len(orientations)} slice orientations", slices[0][0])
    row, col = np.asarray(first.ImageOrientationPatient, float).reshape(2, 3)
    normal = np.cross(row, col)
    keyed = sorted(((float(np.dot(normal, np.asarray(ds.ImagePositionPatient, float))), p, ds) for p, ds in slices),
                   key=lambda item: item[0])
    return Series(
        uid, str(first.get("Modality", "")), str(first.get("SeriesDescription", "")),
        tuple(p for _, p, _ in keyed), tuple(pos for pos, _, _ in keyed),
        tuple(int(ds.get("InstanceNumber", 0) or 0) for _, _, ds in keyed),
        _grid_problem([(p, ds) for _, p, ds in keyed], normal),
    )


def _grid_problem(slices: list, normal: np.ndarray) -> str:
    """Why ordered slices are not one regular grid that a single affine describes, or ``""``.

    A gantry-tilted series steps sideways from slice to slice (its slice positions do not run
    along the slice normal), and slices of differing pixel size or matrix cannot share a grid;
    both would put a mask millimetres off, so they are refused rather than resampled.
    """
    sizes = {(int(ds.get("Rows", 0)), int(ds.get("Columns", 0))) for _, ds in slices}
    if len(sizes) > 1:
        return f"slices differ in matrix size ({', '.join(f'{r}x{c}' for r, c in sorted(sizes))}); not one volume"
    spacing = {tuple(np.round(np.asarray(ds.get("PixelSpacing", [0, 0]), float), 4)): p.name for p, ds in slices}
    if len(spacing) > 1:
        shown = "; ".join(f"{a:g} x {b:g} mm in {name}" for (a, b), name in sorted(spacing.items()))
        return f"pixel spacing differs between slices ({shown}); cannot build one regular volume"
    if len(slices) < 2:
        return ""
    positions = np.asarray([np.asarray(ds.ImagePositionPatient, float) for _, ds in slices])
    steps = positions - positions[0]
    along = steps @ normal
    sideways = np.linalg.norm(steps - along[:, None] * normal[None], axis=1)
    if sideways.max() > 0.01 + 1e-3 * abs(along[-1]):
        tilt = np.degrees(np.arctan2(sideways[-1], abs(along[-1])))
        return (f"slices step sideways along the series (gantry tilt of about {tilt:.1f} degrees, "
                f"{sideways.max():.1f} mm off the slice normal at the last slice); medseg does not resample "
                "tilted series: reconstruct it without tilt, or convert it with dcm2niix first")
    return ""


def select_series(folder: str | Path, series_uid: str | None = None) -> Series:
    """The one series in ``folder``, or the one with ``series_uid``; otherwise an error listing them."""
    found = list_series(folder)
    if series_uid is not None:
        hits = [s for s in found if s.uid == series_uid]
        if not hits:
            raise InputError(f"no series {series_uid}; the folder has: " + "; ".join(s.summary() for s in found),
                             folder)
        return hits[0]
    if len(found) > 1:
        raise InputError(f"{len(found)} series in the folder, pick one with --series UID: "
                         + "; ".join(s.summary() for s in found), folder)
    return found[0]


def check_series(series: Series, folder: Path) -> None:
    """Refuse what is not one regular grid; warn when the series looks partial."""
    if series.problem:
        raise InputError(series.problem, folder)
    if len(series.files) < 2:
        return
    gaps = np.diff(np.asarray(series.positions))
    if np.any(np.abs(gaps) < 1e-3):
        dup = int(np.argmin(np.abs(gaps)))
        raise InputError(f"two slices at the same position ({series.files[dup].name}, {series.files[dup + 1].name}): "
                         "several echoes, phases or series mixed in one folder?", folder)
    median = float(np.median(gaps))
    uneven = np.abs(gaps - median) > SPACING_TOLERANCE * abs(median)
    if np.any(uneven):
        i = int(np.argmax(np.abs(gaps - median)))
        missing = round(gaps[i] / median) - 1
        what = f"about {missing} slice(s) missing" if missing >= 1 else "uneven slice spacing"
        raise InputError(
            f"{what}: gap of {gaps[i]:.3f} mm between {series.files[i].name} and {series.files[i + 1].name} "
            f"(the other slices are {median:.3f} mm apart); cannot build one regular volume", folder)
    instances = sorted(n for n in series.instances if n > 0)
    if instances and (instances[0] != 1 or instances[-1] - instances[0] + 1 != len(instances)):
        warnings.warn(
            f"{folder}: series looks partial: instance numbers {instances[0]}–{instances[-1]} for "
            f"{len(series.files)} files (slices before {instances[0]} or between are missing); "
            f"the volume covers only {len(series.files)} slices",
            MedsegWarning, stacklevel=3)


def read_series(folder: str | Path, series_uid: str | None = None):
    """One series as a ``nibabel.Nifti1Image`` on the scanner grid (RAS affine, rows flipped like dcm2niix)."""
    import nibabel as nib
    import SimpleITK as sitk

    folder = Path(folder)
    series = select_series(folder, series_uid)
    check_series(series, folder)
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames([str(p) for p in series.files])
    try:
        image = reader.Execute()
    except RuntimeError as exc:
        raise InputError(f"cannot decode the series ({str(exc).strip().splitlines()[-1]})", folder) from exc
    array = sitk.GetArrayFromImage(image).transpose(2, 1, 0)  # (z, y, x) → (i, j, k)
    direction = np.asarray(image.GetDirection(), float).reshape(3, 3)
    lps = np.eye(4)
    lps[:3, :3] = direction * np.asarray(image.GetSpacing(), float)
    lps[:3, 3] = image.GetOrigin()
    affine = np.diag([-1.0, -1.0, 1.0, 1.0]) @ lps
    # dcm2niix convention: the row index runs bottom-to-top, so flip j and move the origin.
    affine[:3, 3] += affine[:3, 1] * (array.shape[1] - 1)
    affine[:3, 1] *= -1
    array = np.ascontiguousarray(array[:, ::-1, :])
    out = nib.Nifti1Image(array, affine)
    out.set_qform(affine, code=1)
    out.set_sform(affine, code=1)
    return out


def series_key(series: Series) -> str:
    stats = [(str(p.resolve()), p.stat().st_size, p.stat().st_mtime_ns) for p in series.files]
    return hashlib.sha256(repr((series.uid, stats)).encode()).hexdigest()[:16]


def series_to_nifti(folder: str | Path, series_uid: str | None = None, cache_dir: str | Path | None = None,
                    selected: Series | None = None) -> Path:
    """Convert once and reuse: ``<cache>/dicom/<key>/<folder>.nii.gz`` (key: UID, file sizes and mtimes).

    ``selected``: the series already picked by ``select_series`` (saves reading the headers twice).
    """
    import nibabel as nib

    folder = Path(folder)
    series = selected or select_series(folder, series_uid)
    base = Path(cache_dir) if cache_dir else default_cache_dir() / "dicom"
    target = base / series_key(series) / f"{folder.name}.nii.gz"
    if not target.is_file():
        image = read_series(folder, series_uid)
        with atomic_path(target) as tmp:
            nib.save(image, str(tmp))
    else:
        check_series(series, folder)  # repeat the warning for a cached partial series
    return target


def series_image(folder: str | Path, series_uid: str | None = None) -> tuple[Path, tuple[Path, ...]]:
    """A series folder as the study medseg reads: its cached NIfTI (``series_to_nifti``) and its ordered slices."""
    chosen = select_series(folder, series_uid)
    return series_to_nifti(folder, series_uid, selected=chosen), chosen.files
