"""Read projection X-rays (DICOM, PNG, JPEG) the way a viewer displays them, for MONAI's ``LoadImage``.

DICOM goes through pydicom (pylibjpeg decodes JPEG baseline/lossless, JPEG 2000 and RLE): the
modality LUT (rescale), then the VOI LUT or window, then MONOCHROME1 is inverted so bone is bright.
Bitmaps go through Pillow; palette images become their displayed grey levels.

Arrays follow MONAI's convention: axis 0 is the column (x), axis 1 the row (y). The grid's affine is
the one 3D Slicer gives a DICOM X-ray without orientation tags (LPS identity, origin 0), written in
RAS: ``diag(-sx, -sy, 1)``, so masks written on it overlay the original image there.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from monai.data import ImageReader

from medseg.errors import InputError, MedsegWarning

DICOM_SUFFIXES = (".dcm", ".dicom")
BITMAP_SUFFIXES = (".png", ".jpg", ".jpeg")
DEFAULT_SPACING_MM = 1.0


class GeometryWarning(MedsegWarning):
    """A header lacks usable geometry and a documented default is used (not a UserWarning, so the CLI shows it)."""


@dataclass(frozen=True)
class XRayImage:
    """Displayed grey levels (rows, cols; bright = dense) and the pixel spacing (x, y) in mm."""

    pixels: np.ndarray
    spacing: tuple[float, float]
    source: Path

    @property
    def shape_xy(self) -> tuple[int, int]:
        return int(self.pixels.shape[1]), int(self.pixels.shape[0])


def grid_affine(spacing: Sequence[float]) -> np.ndarray:
    """RAS affine of an X-ray pixel grid (i = column, j = row), LPS identity as Slicer assumes."""
    return np.diag([-float(spacing[0]), -float(spacing[1]), 1.0, 1.0])


def _is_dicom(path: Path) -> bool:
    if path.suffix.lower() in DICOM_SUFFIXES:
        return True
    try:
        with path.open("rb") as handle:
            handle.seek(128)
            return handle.read(4) == b"DICM"
    except OSError:
        return False


def is_xray_file(path: str | Path) -> bool:
    """DICOM (by suffix or the ``DICM`` preamble) or a PNG/JPEG bitmap."""
    path = Path(path)
    return path.is_file() and (path.suffix.lower() in BITMAP_SUFFIXES or _is_dicom(path))


def _dicom_spacing(ds: Any, path: Path) -> tuple[float, float]:
    """(x, y) spacing from PixelSpacing, else ImagerPixelSpacing; 1 mm with a warning when unusable."""
    for keyword in ("PixelSpacing", "ImagerPixelSpacing"):
        value = ds.get(keyword)
        try:
            row, col = (float(v) for v in value)
        except (TypeError, ValueError):
            continue
        if row > 0 and col > 0 and np.isfinite([row, col]).all():
            return col, row  # DICOM gives (between rows, between columns) = (y, x)
    warnings.warn(
        f"{path}: no usable PixelSpacing/ImagerPixelSpacing ({ds.get('PixelSpacing')!s}); using "
        f"{DEFAULT_SPACING_MM} mm pixels", GeometryWarning, stacklevel=1,  # one location: shown once per file
    )
    return DEFAULT_SPACING_MM, DEFAULT_SPACING_MM


def _check_dicom_layout(ds: Any, path: Path) -> None:
    samples = int(ds.get("SamplesPerPixel", 1) or 1)
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    if samples != 1:
        raise InputError(f"colour DICOM ({ds.get('PhotometricInterpretation')}, {samples} samples per pixel) "
                         "is not supported; a single grey X-ray is needed", path)
    if frames != 1:
        raise InputError(f"multi-frame DICOM ({frames} frames) is not supported; a single X-ray is needed", path)
    if "PixelData" not in ds and "Rows" not in ds:
        raise InputError("DICOM file holds no image", path)


def _open_dicom(path: Path, pixels: bool) -> Any:
    import pydicom

    try:
        return pydicom.dcmread(str(path), stop_before_pixels=not pixels)
    except Exception as exc:  # pydicom raises many types for corrupt files
        raise InputError(f"not a readable DICOM file ({type(exc).__name__}: {exc})", path) from exc


def _read_dicom(path: Path) -> XRayImage:
    from pydicom.pixels import apply_modality_lut, apply_voi_lut

    ds = _open_dicom(path, pixels=True)
    _check_dicom_layout(ds, path)
    try:
        raw = ds.pixel_array
    except Exception as exc:  # missing decoder, truncated pixel data
        syntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", "unknown")
        raise InputError(f"cannot decode the pixels (transfer syntax {syntax}: {exc})", path) from exc
    values = np.asarray(apply_modality_lut(raw, ds), dtype=np.float64)
    if "VOILUTSequence" in ds or "WindowCenter" in ds:
        values = np.asarray(apply_voi_lut(values, ds, index=0), dtype=np.float64)
    if str(ds.get("PhotometricInterpretation", "")).upper() == "MONOCHROME1":
        values = values.max() + values.min() - values  # low values are displayed white
    return XRayImage(values.astype(np.float32), _dicom_spacing(ds, path), path)


def _grey_bitmap(image: Any, path: Path) -> np.ndarray:
    """Displayed grey levels of a bitmap: palette and grey-as-RGB images converted, colour refused."""
    if getattr(image, "n_frames", 1) > 1:
        raise InputError(f"multi-frame image ({image.n_frames} frames) is not supported", path)
    if image.mode in ("L", "I", "I;16", "I;16B", "I;16L", "F"):
        return np.asarray(image, dtype=np.float32)
    if image.mode in ("P", "PA", "LA", "1"):
        return np.asarray(image.convert("L"), dtype=np.float32)
    rgb = np.asarray(image.convert("RGB"))
    if not (np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 0], rgb[..., 2])):
        raise InputError(f"colour image (mode {image.mode}) is not supported; a grey X-ray is needed", path)
    return rgb[..., 0].astype(np.float32)


def _read_bitmap(path: Path) -> XRayImage:
    from PIL import Image

    try:
        with Image.open(path) as image:
            pixels = _grey_bitmap(image, path)
    except InputError:
        raise
    except Exception as exc:
        raise InputError(f"not a readable image ({type(exc).__name__}: {exc})", path) from exc
    return XRayImage(pixels, (DEFAULT_SPACING_MM, DEFAULT_SPACING_MM), path)


def read_xray(path: str | Path) -> XRayImage:
    """Pixels as displayed and the pixel spacing of one X-ray file."""
    path = Path(path)
    if not path.is_file():
        raise InputError("file not found", path)
    return _read_dicom(path) if _is_dicom(path) else _read_bitmap(path)


def read_xray_grid(path: str | Path) -> tuple[tuple[int, int], tuple[float, float]]:
    """(columns, rows) and (x, y) spacing from the header only, with the same refusals as ``read_xray``."""
    path = Path(path)
    if not path.is_file():
        raise InputError("file not found", path)
    if _is_dicom(path):
        ds = _open_dicom(path, pixels=False)
        _check_dicom_layout(ds, path)
        return (int(ds.Columns), int(ds.Rows)), _dicom_spacing(ds, path)
    from PIL import Image

    try:
        with Image.open(path) as image:
            if getattr(image, "n_frames", 1) > 1:
                raise InputError(f"multi-frame image ({image.n_frames} frames) is not supported", path)
            if image.mode in ("RGB", "RGBA", "CMYK", "YCbCr"):
                _grey_bitmap(image, path)
            return (int(image.width), int(image.height)), (DEFAULT_SPACING_MM, DEFAULT_SPACING_MM)
    except InputError:
        raise
    except Exception as exc:
        raise InputError(f"not a readable image ({type(exc).__name__}: {exc})", path) from exc


class XRayReader(ImageReader):
    """A MONAI ``ImageReader`` for X-rays: a list of files is stacked as channels (e.g. one mask per structure)."""

    def verify_suffix(self, filename: Sequence[str | Path] | str | Path) -> bool:
        names = [filename] if isinstance(filename, str | Path) else list(filename)
        return all(is_xray_file(name) for name in names)

    def read(self, data: Sequence[str | Path] | str | Path, **kwargs: Any) -> list[XRayImage] | XRayImage:
        if isinstance(data, str | Path):
            return read_xray(data)
        return [read_xray(name) for name in data]

    def get_data(self, img: list[XRayImage] | XRayImage) -> tuple[np.ndarray, dict]:
        images = img if isinstance(img, list) else [img]
        first = images[0]
        for other in images[1:]:
            if other.pixels.shape != first.pixels.shape:
                raise InputError(f"size {other.shape_xy} differs from {first.source.name} {first.shape_xy}",
                                 other.source)
        arrays = [np.ascontiguousarray(image.pixels.T) for image in images]  # (x, y)
        affine = grid_affine(first.spacing)
        meta = {
            "affine": affine, "original_affine": affine.copy(), "spatial_shape": np.asarray(first.shape_xy),
            "spacing": np.asarray(first.spacing), "original_channel_dim": 0 if len(arrays) > 1 else float("nan"),
        }
        return (np.stack(arrays) if len(arrays) > 1 else arrays[0]), meta
