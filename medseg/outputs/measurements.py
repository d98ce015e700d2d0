"""Per-structure measurements of a label map in physical units and scanner (RAS) coordinates.

For every schema label and region: voxel count, volume in mL (3D) or area in mm² (2D, an X×Y×1
grid or an X-ray), centroid and bounding box (of voxel centres) in RAS millimetres. Coordinates use the
transform 3D Slicer uses for the NIfTI (``viewer_affine``), so a centroid typed into Slicer lands
on the structure.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import numpy as np

from medseg.errors import MedsegWarning
from medseg.io.atomic import ensure_not_input, write_text_atomic
from medseg.io.geometry import bounding_box, viewer_affine, voxel_to_world, voxel_volume
from medseg.io.masks import is_bitmap
from medseg.io.read import is_nifti, load_nifti_header
from medseg.io.xray import DEFAULT_SPACING_MM, grid_affine, read_xray_grid
from medseg.labels import LabelSchema
from medseg.outputs.plausibility import PlausibilityLimits, implausible_message, sanity_figures
from medseg.outputs.prediction import Prediction

CSV_FIELDS = ("structure", "values", "voxels", "volume_ml", "area_mm2", "centroid_ras", "bbox_min_ras", "bbox_max_ras")


def _structures(
    label: np.ndarray, schema: LabelSchema, region_masks: np.ndarray | None
) -> list[tuple[str, tuple[int, ...], np.ndarray]]:
    """(name, label values, mask) per structure: labels from the label map, regions from their masks
    when given (overlaps a label map cannot hold), else from the label map; single-label channels are
    not repeated."""
    regions = [(r.name, r.values, np.isin(label, r.values) if region_masks is None else region_masks[i])
               for i, r in enumerate(schema.regions)]
    if schema.label_per_channel:
        return regions
    return [(item.name, (item.value,), label == item.value) for item in schema.labels] + regions


def measure_label(
    label: np.ndarray, affine_ras: np.ndarray, schema: LabelSchema, region_masks: np.ndarray | None = None
) -> list[dict[str, Any]]:
    """One row per structure; a 2D grid (third axis of size 1) reports area instead of volume.

    ``region_masks`` (overlapping schemas): one boolean mask per region, (R, *spatial).
    """
    label = np.asarray(label)
    if label.ndim == 2:
        label = label[..., None]
    if region_masks is not None:
        region_masks = np.asarray(region_masks, bool).reshape(len(schema.regions), *label.shape)
    two_d = label.shape[2] == 1
    unit = voxel_volume(affine_ras, 2 if two_d else 3)
    # every structure lies in the box of the foreground: measure there, not over the whole grid
    if schema.background:
        box = bounding_box(label != 0 if region_masks is None else (label != 0) | region_masks.any(0))
        box = box or tuple(slice(0, 0) for _ in label.shape)
    else:  # 0 is a class (road scenes: sky): every pixel is some structure's
        box = tuple(slice(0, n) for n in label.shape)
    offset = np.array([side.start for side in box])
    crop = None if region_masks is None else region_masks[(slice(None), *box)]
    rows = []
    for name, values, mask in _structures(label[box], schema, crop):
        ijk = np.argwhere(mask) + offset
        row: dict[str, Any] = {"structure": name, "values": list(values), "voxels": int(len(ijk))}
        row["area_mm2" if two_d else "volume_ml"] = len(ijk) * unit if two_d else len(ijk) * unit / 1000.0
        if len(ijk):
            corners = np.array(np.meshgrid(*zip(ijk.min(0), ijk.max(0)), indexing="ij")).reshape(3, -1).T
            world = voxel_to_world(affine_ras, corners)
            row["centroid_ras"] = voxel_to_world(affine_ras, ijk.mean(0))[0].round(3).tolist()
            row["bbox_min_ras"], row["bbox_max_ras"] = world.min(0).round(3).tolist(), world.max(0).round(3).tolist()
        else:
            row["centroid_ras"] = row["bbox_min_ras"] = row["bbox_max_ras"] = None
        rows.append(row)
    return rows


def measurements_csv(rows: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        flat = {k: (" ".join(f"{x:g}" for x in v) if isinstance(v, list) else v) for k, v in row.items()}
        for key in ("volume_ml", "area_mm2"):
            if key in row:
                flat[key] = f"{row[key]:.4f}"
        writer.writerow(flat)
    return buffer.getvalue()


def read_measurements(path: str | Path) -> dict[str, Any]:
    """Load a ``<case>_measurements.json`` written by ``MeasurementWriter``."""
    return json.loads(Path(path).read_text())


def reference_affine(reference: str | Path) -> tuple[np.ndarray, str]:
    """The RAS affine outputs of ``reference`` are written on, and how to read its coordinates.

    A NIfTI's is 3D Slicer's transform of it; an X-ray (DICOM, PNG) has no patient frame, so its
    pixel grid is placed as the written ``<case>_seg.nii.gz`` is (``medseg.io.xray.grid_affine``).
    """
    if is_nifti(reference):
        return viewer_affine(load_nifti_header(reference)), "RAS mm (3D Slicer's transform of the image)"
    if is_bitmap(reference) and _is_photograph(reference):  # no X-ray to read a pixel size from: 1 px = 1 mm
        return grid_affine((DEFAULT_SPACING_MM, DEFAULT_SPACING_MM)), "the photograph's pixels (no pixel size stored)"
    _, spacing = read_xray_grid(reference)
    return grid_affine(spacing), "RAS mm on the X-ray's pixel grid, as <case>_seg.nii.gz places it (no patient frame)"


def _is_photograph(path: str | Path) -> bool:
    """A colour bitmap (road scenes, fundus photographs), which the X-ray reader refuses."""
    from PIL import Image

    with Image.open(path) as image:
        return image.mode in ("RGB", "RGBA", "CMYK", "YCbCr")


class MeasurementWriter:
    """``<case>_measurements.json`` and ``.csv`` beside the mask (the JSON also names the source image).

    Overlapping structures are measured on the prediction's masks (``Prediction.region_masks``), which
    agree with the label map.
    """

    def __init__(self, plausibility: dict[str, Any] | None = None) -> None:
        # sanity figures and their limits (``medseg.outputs.plausibility``); None: no figures
        self.plausibility = PlausibilityLimits(**plausibility) if plausibility else None

    def __call__(self, prediction: Prediction, output_dir: Path) -> list[Path]:
        case, schema = prediction.case, prediction.schema
        affine, coordinates = reference_affine(case.reference)
        rows = measure_label(prediction.label, affine, schema, prediction.region_masks())
        base = Path(output_dir) / f"{case.case_id}_measurements"
        json_path, csv_path = base.with_suffix(".json"), base.with_suffix(".csv")
        for path in (json_path, csv_path):
            ensure_not_input(path, list(case.images))
        labels = [{"name": item.name, "value": item.value, "color": list(item.color)}
                  for item in prediction.schema.labels]
        document = {"case": case.case_id, "image": str(Path(case.reference).resolve()),
                    "coordinates": coordinates, "labels": labels,
                    "structures": rows}
        if prediction.sequences:
            document["sequences"] = list(prediction.sequences)
            document["missing_sequences"] = list(case.missing)
            if prediction.unused_sequences:
                document["unused_sequences"] = list(prediction.unused_sequences)
        if self.plausibility is not None:
            document["sanity"] = self._sanity(prediction, affine)
        write_text_atomic(json_path, json.dumps(document, indent=2) + "\n")
        write_text_atomic(csv_path, measurements_csv(rows))
        return [json_path, csv_path]

    def _sanity(self, prediction: Prediction, affine: np.ndarray) -> dict[str, Any]:
        """``medseg.outputs.plausibility`` figures on the reference image; a warning when implausible."""
        import warnings

        image = prediction.reference_image  # as the Predictor loaded it; read from the file otherwise
        image = np.asarray(load_nifti_header(prediction.case.reference).dataobj) if image is None else image
        voxel_ml = voxel_volume(affine, 3) / 1000.0
        figures, reasons = sanity_figures(prediction.label, image[..., 0] if image.ndim == 4 else image, voxel_ml,
                                          prediction.schema, self.plausibility)
        if reasons:
            warnings.warn(implausible_message(prediction.case.source, reasons), MedsegWarning, stacklevel=2)
        return figures
