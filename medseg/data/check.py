"""Check a whole dataset before training: every problem of every case, in one pass.

Fast checks read headers (and the small label volumes): files exist and read, the modalities of a
case share a grid, the label lies on the image grid, label values are ones the bundle (or the
manifest's ``label_map``) knows, the channel count fits the network, no case is in two sections.
``deep`` checks read the images too: NaN/Inf voxels, constant images, empty labels.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from medseg.bundles import find_bundle
from medseg.data.manifest import Manifest, load_manifest
from medseg.errors import InputError
from medseg.io.dicom import is_dicom_file
from medseg.io.masks import MaskCoding, is_bitmap, read_mask
from medseg.io.read import AFFINE_TOLERANCE, CaseFiles, is_nifti, load_nifti_header
from medseg.io.xray import check_xray_case
from medseg.labels import LabelSchema
from medseg.modalities import ModalitySubsets

PLANAR_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one file of one case."""

    case: str
    file: str
    message: str

    def __str__(self) -> str:
        return f"{self.case}: {self.file}: {self.message}" if self.file else f"{self.case}: {self.message}"


@dataclass
class Header:
    """What the fast checks need from a file without reading its voxels."""

    spatial: tuple[int, ...]
    channels: int
    affine: np.ndarray
    image: object  # nibabel image or PIL image, for the deep checks


def read_header(path: Path, spatial_dims: int) -> Header:
    """NIfTI through nibabel, PNG/JPEG/TIFF through PIL (identity affine, as MONAI's PILReader)."""
    if str(path).lower().endswith(PLANAR_SUFFIXES):
        from PIL import Image, UnidentifiedImageError

        if not path.is_file():
            raise InputError("file not found", path)
        try:
            image = Image.open(path)
        except (OSError, UnidentifiedImageError) as exc:
            raise InputError(f"not a readable image ({exc})", path) from exc
        channels = len(image.getbands()) if image.mode not in ("P", "1") else 1
        return Header(tuple(image.size) + (1,) * (spatial_dims - 2), channels, np.eye(4), image)
    if not is_nifti(path):
        raise InputError("unsupported file type (expected .nii/.nii.gz or PNG/JPEG/TIFF)", path)
    image = load_nifti_header(path)
    shape = tuple(int(s) for s in image.shape)
    spatial = shape[:spatial_dims] + (1,) * max(0, spatial_dims - len(shape))
    return Header(spatial, int(np.prod(shape[spatial_dims:], dtype=int)), image.affine, image)


def voxels(header: Header, label: bool = False) -> np.ndarray:
    """The stored values; a palette image shows its grey levels, but a palette mask keeps its indices."""
    if hasattr(header.image, "dataobj"):
        return np.asarray(header.image.dataobj)
    image = header.image.convert("L") if header.image.mode == "P" and not label else header.image
    return np.asarray(image)


class CaseChecker:
    """Collects problems for cases of one manifest against one network/label schema."""

    def __init__(self, manifest: Manifest, schema: LabelSchema, num_channels: int, spatial_dims: int = 3,
                 deep: bool = False, subsets: ModalitySubsets | None = None) -> None:
        self.manifest, self.schema = manifest, schema
        self.subsets = subsets  # which sequences a case may lack (None: every one is needed)
        self.notes: list[Problem] = []  # facts worth saying that do not stop training (a supported subset)
        self.num_channels, self.spatial_dims, self.deep = num_channels, spatial_dims, deep
        allowed = manifest.source_label_values or set(schema.label_values)
        self.allowed = {0, *allowed}
        self.problems: list[Problem] = []

    def _add(self, case: CaseFiles, path: Path | None, message: str) -> None:
        self.problems.append(Problem(case.case_id, str(path) if path else "", message))

    def _header(self, case: CaseFiles, path: Path) -> Header | None:
        try:
            return read_header(path, self.spatial_dims)
        except InputError as exc:
            self._add(case, path, exc.message)
            return None

    def _is_xray_case(self, case: CaseFiles) -> bool:
        """X-ray cases (one mask file per structure, DICOM radiographs, overlapping 2D schemas)."""
        if isinstance(case.label, tuple):
            return True
        if is_nifti(case.reference):
            return False
        return is_dicom_file(case.reference) or (self.spatial_dims == 2 and self.schema.mode == "overlapping")

    def _check_xray(self, case: CaseFiles, needs_label: bool) -> None:
        """Header checks of ``medseg.io.xray`` plus one mask file per structure."""
        try:
            check_xray_case(case, self.num_channels, self.spatial_dims)
        except InputError as exc:
            self._add(case, Path(exc.path) if exc.path else None, exc.message)
            return
        masks = case.label if isinstance(case.label, tuple) else (case.label,) if case.label else ()
        if not masks and needs_label:
            self._add(case, None, "training case has no label")
        elif masks and len(masks) != self.schema.num_channels:
            names = ", ".join(self.schema.channel_names)
            self._add(case, masks[0], f"{len(masks)} mask file(s) for this case, the bundle needs "
                                      f"{self.schema.num_channels} (one per structure: {names})")

    def _check_missing(self, case: CaseFiles) -> None:
        """A study without some sequences: a note when the bundle supports its subset, else a problem."""
        missing = ", ".join(case.missing)
        subsets = self.subsets
        if subsets is not None and subsets.supports(m for m in subsets.modalities if m not in case.missing):
            self.notes.append(Problem(case.case_id, "", f"missing sequences {missing} (supported: "
                                                        f"{subsets.describe()}; filled as in modality dropout)"))
        else:
            needs = subsets.describe() if subsets is not None else "every modality"
            self._add(case, case.reference, f"missing sequences {missing}; the bundle needs {needs}")

    def check(self, case: CaseFiles, needs_label: bool) -> None:
        if case.missing:
            self._check_missing(case)
        if self._is_xray_case(case):
            self._check_xray(case, needs_label)
            return
        headers = [(p, self._header(case, p)) for p in case.images]
        readable = [(p, h) for p, h in headers if h is not None]
        ref_path, ref = readable[0] if readable else (None, None)
        if ref is not None and self.spatial_dims == 3 and min(ref.spatial) == 1:
            self._add(case, ref_path, f"image is 2D (shape {ref.spatial}), the bundle needs 3D volumes")
        for path, header in readable[1:]:
            if header.spatial != ref.spatial:
                self._add(case, path, f"shape {header.spatial} differs from {ref_path.name} {ref.spatial}")
            elif not np.allclose(header.affine, ref.affine, atol=AFFINE_TOLERANCE):
                self._add(case, path, f"affine differs from {ref_path.name} (modalities must be co-registered)")
        if len(readable) == len(headers):
            self._check_channels(case, ref_path, sum(h.channels for _, h in readable))
        if self.deep:
            for path, header in readable:
                self._check_image_voxels(case, path, header)
        if case.label is None:
            if needs_label:
                self._add(case, None, "training case has no label")
            return
        if self.spatial_dims == 2 and ref is not None and is_bitmap(case.label):
            self._check_planar_label(case, ref)
            return
        label = self._header(case, case.label)
        if label is None:
            return
        if ref is not None and label.spatial != ref.spatial:
            self._add(case, case.label, f"label shape {label.spatial} differs from the image shape {ref.spatial}")
        elif ref is not None and not np.allclose(label.affine, ref.affine, atol=AFFINE_TOLERANCE):
            self._add(case, case.label, "label affine differs from the image affine (not on the image grid)")
        if label.channels != 1:
            self._add(case, case.label, f"label has {label.channels} channels, expected one label map")
        self._check_label_values(case, label)

    def _check_planar_label(self, case: CaseFiles, ref: Header) -> None:
        """A 2D mask read as training reads it: through the manifest's mask coding, onto the image grid."""
        try:
            label = read_mask(case.label, MaskCoding.from_json(self.manifest.mask_coding), shape=ref.spatial[:2])
        except InputError as exc:
            self._add(case, case.label, exc.message)
            return
        values = set(np.unique(label).tolist())
        unknown = sorted(values - self.allowed)
        if unknown:
            self._add(case, case.label, f"label values {unknown} are not in the schema {sorted(self.allowed)}")
        if self.deep and values <= {0}:
            self._add(case, case.label, "label is empty (no foreground voxels)")

    def _check_channels(self, case: CaseFiles, ref_path: Path, channels: int) -> None:
        order = self.manifest.channel_order
        if order is not None and max(order) >= channels:
            self._add(case, ref_path, f"channel_order {order} needs {max(order) + 1} channels, found {channels}")
            return
        found = (len(order) if order is not None else channels) + len(case.missing)
        if found != self.num_channels:
            self._add(case, ref_path, f"found {found} image channel(s), the bundle needs {self.num_channels}")

    def _check_label_values(self, case: CaseFiles, label: Header) -> None:
        try:
            values = np.unique(voxels(label, label=True))
        except Exception as exc:  # noqa: BLE001 - a truncated file fails here, whatever the reader raises
            self._add(case, case.label, f"label voxels cannot be read ({type(exc).__name__}: {exc})")
            return
        if not np.all(np.isfinite(values)) or not np.allclose(values, np.round(values)):
            self._add(case, case.label, "label holds non-integer values (a probability map or a resampled mask?)")
            return
        unknown = sorted(set(int(v) for v in values) - self.allowed)
        if unknown:
            self._add(case, case.label, f"label values {unknown} are not in the schema {sorted(self.allowed)}")
        if self.deep and set(int(v) for v in values) <= {0}:
            self._add(case, case.label, "label is empty (no foreground voxels)")

    def _check_image_voxels(self, case: CaseFiles, path: Path, header: Header) -> None:
        try:
            array = voxels(header).astype(np.float32, copy=False)
        except Exception as exc:  # noqa: BLE001 - see above
            self._add(case, path, f"image voxels cannot be read ({type(exc).__name__}: {exc})")
            return
        finite = np.isfinite(array)
        if not finite.all():
            self._add(case, path, f"image has {int((~finite).sum())} NaN/Inf voxel(s)")
        elif array.size and float(array.min()) == float(array.max()):
            self._add(case, path, f"image is constant (every voxel {float(array.min()):g})")


def check_manifest(
    manifest: Manifest,
    schema: LabelSchema,
    num_channels: int,
    spatial_dims: int = 3,
    deep: bool = False,
    sections: Iterable[str] = ("training", "validation", "test"),
    subsets: ModalitySubsets | None = None,
    notes: list[Problem] | None = None,
) -> list[Problem]:
    """Every problem of every case in ``sections`` (empty list: the data is fit to train on).

    ``subsets``: the sequences a case may lack; such cases are added to ``notes`` when given."""
    checker = CaseChecker(manifest, schema, num_channels, spatial_dims, deep, subsets)
    seen: dict[str, str] = {}
    for section in sections:
        for case in manifest.cases(section):
            if case.case_id in seen:
                where = "twice in" if seen[case.case_id] == section else f"in both {seen[case.case_id]} and"
                checker.problems.append(Problem(case.case_id, "", f"case is listed {where} {section}"))
                continue
            seen[case.case_id] = section
            checker.check(case, needs_label=section != "test")
    if notes is not None:
        notes.extend(checker.notes)
    return checker.problems


def bundle_inputs(bundle) -> tuple[int, int]:
    """(input channels, spatial dims) a bundle's network expects, from its metadata."""
    meta = bundle.metadata
    inputs = next(iter(meta.get("network_data_format", {}).get("inputs", {}).values()), {})
    channels = int(inputs.get("num_channels", len(bundle.modalities)))
    return channels, int(meta.get("medseg", {}).get("dims", 3))


def check_dataset(manifest_path: str | Path, bundle: str | Path, deep: bool = False,
                  data_root: str | Path | None = None, notes: list[Problem] | None = None) -> list[Problem]:
    """``medseg data check``: load the manifest for ``bundle`` and list every problem (and ``notes``)."""
    found = find_bundle(bundle)
    manifest = load_manifest(manifest_path, data_root=data_root, modalities=found.modalities)
    channels, dims = bundle_inputs(found)
    subsets = ModalitySubsets.from_metadata(found.metadata)
    return check_manifest(manifest, found.schema, channels, dims, deep=deep, subsets=subsets, notes=notes)


def problems_error(problems: list[Problem], manifest: Path) -> InputError:
    """One error listing every problem (``medseg train`` stops with it before training).

    A single problem stays a single line, named by its file, like every other medseg error.
    """
    if len(problems) == 1:
        return InputError(f"{problems[0]} (nothing was trained)", manifest)
    lines = "\n".join(f"  {p}" for p in problems)
    return InputError(f"{len(problems)} problem(s) in the data, nothing was trained:\n{lines}", manifest)
