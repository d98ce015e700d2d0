"""The rules a case must pass before its pixels load, written once.

``case_problems`` yields every problem of one case (header level; with ``deep``, voxel level too);
``check_case_headers`` raises the first (inference: one line, before any output) and
``medseg.data.check`` lists them all (``medseg data check``, the checks before training). So
inference and the data check cannot disagree about the same study.

Two kinds of case: grids (NIfTI volumes and 2D NIfTI/PNG/JPEG/TIFF images, one file per modality,
one label map) and X-rays (a DICOM radiograph, or a bitmap for a 2D bundle of overlapping
structures; one mask file per structure), whose headers ``medseg.io.xray`` reads.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from medseg.errors import InputError
from medseg.io.dicom import is_dicom_file
from medseg.io.masks import MaskCoding, is_bitmap, read_mask
from medseg.io.read import AFFINE_TOLERANCE, CaseFiles, check_unusual_headers, is_nifti, load_nifti_header
from medseg.io.xray import read_xray_grid


@dataclass(frozen=True)
class CaseRules:
    """What a case must fit: the network's input, and (for data checks) the labels a bundle knows."""

    num_channels: int
    spatial_dims: int = 3
    overlapping: bool = False  # a 2D bundle of overlapping structures takes X-rays (one mask file per structure)
    structures: tuple[str, ...] = ()  # X-ray cases: one mask file per structure, these names
    label_values: frozenset[int] | None = None  # allowed label values; None: label voxels are not read
    channel_order: tuple[int, ...] | None = None  # a manifest's channel order over a 4D image
    mask_coding: dict | None = None  # how a manifest's 2D masks store labels (``medseg.io.masks.MaskCoding``)
    needs_label: bool = False
    deep: bool = False  # read every voxel: NaN/Inf, constant images, empty labels


@dataclass(frozen=True)
class CaseProblem:
    """One thing wrong with one file of a case (``path`` None: the case as a whole)."""

    path: Path | None
    message: str


@dataclass
class Header:
    """What the header rules need from a file without reading its voxels."""

    shape: tuple[int, ...]  # as stored
    spatial: tuple[int, ...]  # the first ``spatial_dims`` axes, padded with 1
    channels: int
    affine: np.ndarray
    image: object  # nibabel image or PIL image, for the voxel rules


def read_header(path: Path, spatial_dims: int) -> Header:
    """NIfTI through nibabel, PNG/JPEG/TIFF through PIL (identity affine, as MONAI's PILReader)."""
    if is_bitmap(path):
        from PIL import Image, UnidentifiedImageError

        if not path.is_file():
            raise InputError("file not found", path)
        try:
            image = Image.open(path)
        except (OSError, UnidentifiedImageError) as exc:
            raise InputError(f"not a readable image ({exc})", path) from exc
        channels = len(image.getbands()) if image.mode not in ("P", "1") else 1
        size = tuple(image.size)
        return Header(size, size + (1,) * (spatial_dims - 2), channels, np.eye(4), image)
    if not is_nifti(path):
        raise InputError("unsupported file type (expected .nii/.nii.gz or PNG/JPEG/TIFF)", path)
    image = load_nifti_header(path)
    shape = tuple(int(s) for s in image.shape)
    spatial = shape[:spatial_dims] + (1,) * max(0, spatial_dims - len(shape))
    return Header(shape, spatial, int(np.prod(shape[spatial_dims:], dtype=int)), image.affine, image)


def voxels(header: Header, label: bool = False) -> np.ndarray:
    """The stored values; a palette image shows its grey levels, but a palette mask keeps its indices."""
    if hasattr(header.image, "dataobj"):
        return np.asarray(header.image.dataobj)
    image = header.image.convert("L") if header.image.mode == "P" and not label else header.image
    return np.asarray(image)


def is_xray_case(case: CaseFiles, rules: CaseRules) -> bool:
    """One mask file per structure, a DICOM radiograph, or a bitmap for a 2D overlapping schema."""
    if isinstance(case.label, tuple):
        return True
    if is_nifti(case.reference):
        return False
    return is_dicom_file(case.reference) or (rules.spatial_dims == 2 and rules.overlapping)


Problems = Generator[CaseProblem, None, "tuple[int, ...] | None"]


def case_problems(case: CaseFiles, rules: CaseRules) -> Problems:
    """Every problem of ``case`` in reading order; returns the case's spatial shape (None if unreadable)."""
    if is_xray_case(case, rules):
        return (yield from _xray_problems(case, rules))
    return (yield from _grid_problems(case, rules))


def check_case_headers(case: CaseFiles, num_channels: int, spatial_dims: int = 3,
                       overlapping: bool = False) -> tuple[int, ...]:
    """Raise the first header problem of ``case`` (readable, one grid, channel count, dimensionality).

    Returns the spatial shape of the case.
    """
    problems = case_problems(case, CaseRules(num_channels, spatial_dims, overlapping))
    try:
        problem = next(problems)
    except StopIteration as done:
        return done.value
    raise InputError(problem.message, problem.path)


def _grid_problems(case: CaseFiles, rules: CaseRules) -> Problems:
    readable = []
    for path in case.images:
        try:
            readable.append((path, read_header(path, rules.spatial_dims)))
        except InputError as exc:
            yield CaseProblem(path, exc.message)
    if readable and len(readable) == len(case.images) and all(is_nifti(p) for p in case.images):
        try:  # headers that load but cannot be segmented as they are (5D, qforms that disagree)
            check_unusual_headers(case.images, [h.image for _, h in readable], rules.spatial_dims)
        except InputError as exc:
            yield CaseProblem(Path(exc.path) if exc.path else case.reference, exc.message)
    ref_path, ref = readable[0] if readable else (None, None)
    if ref is not None:
        yield from _dimensionality(ref_path, ref, rules.spatial_dims)
    for path, header in readable[1:]:
        if header.spatial != ref.spatial:
            yield CaseProblem(path, f"shape {header.spatial} differs from {ref_path.name} {ref.spatial} "
                                    "(sequences on their own grids: use medseg infer --register)")
        elif not np.allclose(header.affine, ref.affine, atol=AFFINE_TOLERANCE):
            yield CaseProblem(path, f"affine differs from {ref_path.name} (modalities must be co-registered; "
                                    "medseg infer --register registers them)")
    if readable and len(readable) == len(case.images):  # a missing sequence counts: it is filled in later
        yield from _channels(ref_path, sum(h.channels for _, h in readable) + len(case.missing), rules)
    if rules.deep:
        for path, header in readable:
            yield from _image_voxels(path, header)
    yield from _label_problems(case, ref, rules)
    return ref.spatial if ref is not None else None


def _dimensionality(path: Path, header: Header, spatial_dims: int) -> Problems:
    if spatial_dims == 3 and (len(header.shape) < 3 or min(header.shape[:3]) == 1):
        yield CaseProblem(path, f"image is 2D (shape {header.shape}), the bundle needs 3D volumes")
    elif spatial_dims == 2 and len(header.shape) >= 3 and header.shape[2] > 1:
        yield CaseProblem(path, f"image is 3D (shape {header.shape}), the bundle needs 2D images (X x Y x 1)")
    elif spatial_dims == 2 and min(header.spatial[:2]) == 1:
        yield CaseProblem(path, f"expected a 2D image, got shape {header.spatial}")


def _channels(path: Path, channels: int, rules: CaseRules) -> Problems:
    order = rules.channel_order
    if order is not None and max(order) >= channels:
        yield CaseProblem(path, f"channel_order {list(order)} needs {max(order) + 1} channels, found {channels}")
        return
    found = len(order) if order is not None else channels
    if found != rules.num_channels:
        yield CaseProblem(path, f"found {found} image channel(s), the bundle needs {rules.num_channels}")


def _label_problems(case: CaseFiles, ref: Header | None, rules: CaseRules) -> Problems:
    if case.label is None:
        if rules.needs_label:
            yield CaseProblem(None, "training case has no label")
        return
    if rules.spatial_dims == 2 and is_bitmap(case.label):
        if ref is not None and rules.label_values is not None:
            yield from _bitmap_label(case.label, ref, rules)
        return
    try:
        label = read_header(case.label, rules.spatial_dims)
    except InputError as exc:
        yield CaseProblem(case.label, exc.message)
        return
    if ref is not None and label.spatial != ref.spatial:
        yield CaseProblem(case.label, f"label shape {label.spatial} differs from the image shape {ref.spatial}")
    elif ref is not None and not np.allclose(label.affine, ref.affine, atol=AFFINE_TOLERANCE):
        yield CaseProblem(case.label, "label affine differs from the image affine (not on the image grid)")
    if label.channels != 1:
        yield CaseProblem(case.label, f"label has {label.channels} channels, expected one label map")
    if rules.label_values is not None:
        yield from _label_values(case.label, label, rules)


def _bitmap_label(path: Path, ref: Header, rules: CaseRules) -> Problems:
    """A 2D mask read as training reads it: through the manifest's mask coding, onto the image grid."""
    try:
        label = read_mask(path, MaskCoding.from_json(rules.mask_coding), shape=ref.spatial[:2])
    except InputError as exc:
        yield CaseProblem(path, exc.message)
        return
    values = set(np.unique(label).tolist())
    unknown = sorted(values - rules.label_values)
    if unknown:
        yield CaseProblem(path, f"label values {unknown} are not in the schema {sorted(rules.label_values)}")
    if rules.deep and values <= {0}:
        yield CaseProblem(path, "label is empty (no foreground voxels)")


def _label_values(path: Path, label: Header, rules: CaseRules) -> Problems:
    try:
        values = np.unique(voxels(label, label=True))
    except Exception as exc:  # noqa: BLE001 - a truncated file fails here, whatever the reader raises
        yield CaseProblem(path, f"label voxels cannot be read ({type(exc).__name__}: {exc})")
        return
    if not np.all(np.isfinite(values)) or not np.allclose(values, np.round(values)):
        yield CaseProblem(path, "label holds non-integer values (a probability map or a resampled mask?)")
        return
    allowed = sorted(rules.label_values)
    unknown = sorted(set(int(v) for v in values) - set(allowed))
    if unknown:
        yield CaseProblem(path, f"label values {unknown} are not in the schema {allowed}")
    if rules.deep and set(int(v) for v in values) <= {0}:
        yield CaseProblem(path, "label is empty (no foreground voxels)")


def _image_voxels(path: Path, header: Header) -> Problems:
    try:
        array = voxels(header).astype(np.float32, copy=False)
    except Exception as exc:  # noqa: BLE001 - see above
        yield CaseProblem(path, f"image voxels cannot be read ({type(exc).__name__}: {exc})")
        return
    finite = np.isfinite(array)
    if not finite.all():
        yield CaseProblem(path, f"image has {int((~finite).sum())} NaN/Inf voxel(s)")
    elif array.size and float(array.min()) == float(array.max()):
        yield CaseProblem(path, f"image is constant (every voxel {float(array.min()):g})")


def _xray_problems(case: CaseFiles, rules: CaseRules) -> Problems:
    """A single grey 2D image; masks (one per structure) of the same aspect ratio."""
    try:
        shape, _ = read_xray_grid(case.reference)  # a broken file names its own problem first
    except InputError as exc:
        yield CaseProblem(Path(exc.path) if exc.path else case.reference, exc.message)
        return None
    if rules.spatial_dims != 2:
        yield CaseProblem(case.reference, f"a 2D X-ray was given, the bundle needs {rules.spatial_dims}D volumes")
        return None
    if len(case.images) != rules.num_channels:
        yield CaseProblem(case.reference, f"found {len(case.images)} image(s), the bundle needs {rules.num_channels}")
    masks = case.label if isinstance(case.label, tuple) else (case.label,) if case.label else ()
    for mask in masks:
        try:
            mask_shape, _ = read_xray_grid(mask)
        except InputError as exc:
            yield CaseProblem(mask, exc.message)
            continue
        if abs(mask_shape[0] / mask_shape[1] - shape[0] / shape[1]) > 0.01:
            yield CaseProblem(mask, f"mask size {mask_shape} does not cover the image {shape} (aspect ratio differs)")
    if not masks and rules.needs_label:
        yield CaseProblem(None, "training case has no label")
    elif masks and rules.structures and len(masks) != len(rules.structures):
        yield CaseProblem(masks[0], f"{len(masks)} mask file(s) for this case, the bundle needs "
                                    f"{len(rules.structures)} (one per structure: {', '.join(rules.structures)})")
    return shape
