"""Label files as evaluation reads them: truths and predictions, NIfTI or bitmaps, on one grid.

The one reader of label files that are scored (``evaluate_predictions``, and the post-processing
search on a run's validation cases): values are checked against the schema, a bitmap truth is read
through its mask coding and, stored smaller (SCR masks are half size), resized onto the prediction.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from medseg.errors import InputError
from medseg.io.masks import MaskCoding, is_bitmap, read_mask, read_structure_masks, resize_nearest
from medseg.io.read import load_nifti_header
from medseg.io.validate import check_voxels, read_voxels
from medseg.labels import LabelSchema


@dataclass
class Side:
    """One side (prediction or truth) of a case: its label map, its per-channel masks when stored
    apart (overlapping structures), and its grid (``None`` for a bitmap, which has no header)."""

    label: np.ndarray
    channels: np.ndarray | None = None
    image: object | None = None  # nibabel image

    def crop(self, box: tuple[slice, ...]) -> Side:
        """The same side inside ``box`` (of the label's axes), for metrics that do not change there."""
        channels = None if self.channels is None else self.channels[(slice(None), *box)]
        return Side(self.label[box], channels, self.image)

    def structure(self, schema: LabelSchema, name: str, values: tuple[int, ...]) -> np.ndarray:
        names = schema.channel_names
        if self.channels is not None and schema.mode == "overlapping" and name in names:
            return self.channels[names.index(name)]
        return np.isin(self.label, values)


def read_label(path: Path, schema: LabelSchema, label_map: dict[int, int] | None = None,
                coding: MaskCoding | None = None) -> Side:
    """A truth or predicted label file: NIfTI as stored (then ``label_map``), a bitmap through its mask coding.

    The one reader for label files that are scored (``evaluate``, ``postchoice``); values are checked
    against ``schema``.
    """
    if is_bitmap(path):
        data = read_mask(path, coding if coding is not None else MaskCoding(values=dict(label_map or {})))
        schema.check_label_values(data, path)
        return Side(data)
    image = load_nifti_header(path)
    data = read_voxels(path)
    check_voxels(data, path, allow_blank=True, what="label")
    data = np.rint(data).astype(np.int64)
    if label_map:  # a manifest's source coding (e.g. MSD Task01) → the bundle's values, all at once
        coded = data
        data = coded.copy()
        for source, target in label_map.items():
            data[coded == source] = target
    schema.check_label_values(data, path)
    return Side(np.squeeze(data), image=image)


def read_structures(paths: tuple[Path, ...], schema: LabelSchema) -> Side:
    """One binary mask file per overlapping channel (e.g. SCR: one PNG per structure), overlaps kept."""
    if schema.mode != "overlapping":
        raise InputError(f"{len(paths)} mask files for one case, but the bundle's labels are exclusive "
                         "(one label map per case)", paths[0])
    channels = read_structure_masks(paths, schema.channel_names)
    return Side(schema.channels_to_label_map(channels).astype(np.int64), channels)


def structure_files(pred_path: Path, case: str, schema: LabelSchema) -> tuple[Path, ...] | None:
    """``<case>_<structure>.nii.gz`` beside an overlapping prediction (X-ray writers), when all exist."""
    if schema.mode != "overlapping":
        return None
    files = tuple(pred_path.parent / f"{case}_{name}.nii.gz" for name in schema.channel_names)
    return files if all(f.is_file() for f in files) else None


def read_prediction(case: str, path: Path, schema: LabelSchema) -> Side:
    side = read_label(path, schema)
    structures = structure_files(path, case, schema)
    if structures is not None:
        side.channels = np.stack([np.squeeze(read_label(p, schema).label) > 0 for p in structures])
    return side


def on_prediction_grid(truth: Side, pred_shape: tuple[int, ...], truth_path: Path, pred_path: Path) -> Side:
    """A bitmap truth at another size than the prediction (SCR masks are half size), resized onto it;
    the prediction lies on its image's grid, so a truth that does not fit is the file named."""
    if truth.label.shape == pred_shape:
        return truth
    if truth.image is not None or len(pred_shape) != 2:
        raise InputError(f"truth shape {truth.label.shape} differs from the prediction's {pred_shape} "
                         f"({pred_path.name}, written on its image's grid)", truth_path)
    channels = None if truth.channels is None else np.stack([resize_nearest(c, pred_shape, truth_path)
                                                             for c in truth.channels])
    return Side(resize_nearest(truth.label, pred_shape, truth_path), channels)


def spacing_of(image, shape: tuple[int, ...]) -> tuple[float, ...]:
    """Voxel sizes (mm) of the axes that survive ``np.squeeze`` (a 2D X×Y×1 label keeps two)."""
    zooms = image.header.get_zooms()[: len(image.shape)]
    kept = tuple(float(z) for z, n in zip(zooms, image.shape) if n > 1)
    return kept if len(kept) == len(shape) else tuple(float(z) for z in zooms[: len(shape)])


def recorded_sequences(pred_dir: Path, case: str) -> dict[str, str]:
    """The input sequences a case was segmented from (``sequences`` column), as inference recorded
    them in ``<case>_measurements.json``; nothing when it did not."""
    path = pred_dir / f"{case}_measurements.json"
    try:
        sequences = json.loads(path.read_text()).get("sequences") if path.is_file() else None
    except (OSError, ValueError):
        sequences = None
    return {"sequences": "+".join(sequences)} if sequences else {}
