"""3D Slicer outputs: ``<case>.seg.nrrd`` segmentations and a colour table for plain label maps.

A ``.seg.nrrd`` is a NRRD in LPS space with Slicer's ``Segment<N>_*`` key/value fields. Layout:

* layer 0 holds the label map itself, one segment per schema label (``LabelValue`` = the label's
  value), so it is voxel for voxel the NIfTI label map;
* for overlapping schemas each region (e.g. BraTS WT ⊃ TC ⊃ ET, or a clavicle over a lung) is one
  more segment in a layer of its own (``LabelValue`` 1), because overlapping regions share voxels and
  one layer holds one value per voxel. Each region is the prediction's mask, which is
  ``np.isin(label, region.values)`` of the post-processed label map (``Predictor.label_and_masks``).
  A region's colour is that of the label it paints.
* when every region is one label (chest X-ray: lungs, heart, clavicles), the regions are the
  structures: one segment per structure (its own mask, overlaps kept), each in its own layer, and no
  label-map layer.

Geometry comes from ``viewer_affine`` (the transform Slicer itself uses for the NIfTI), turned into
LPS space directions and origin, so the segmentation lies on the NIfTI label in Slicer.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from medseg.errors import OutputError
from medseg.io.atomic import atomic_path, ensure_not_input, write_text_atomic
from medseg.io.geometry import bounding_box, ras_to_lps, viewer_affine
from medseg.io.read import load_nifti_header
from medseg.labels import LabelSchema
from medseg.outputs.prediction import Prediction


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_") or "segment"


def _extent(mask: np.ndarray) -> str:
    """Slicer's ``imin imax jmin jmax kmin kmax`` of a mask's bounding box; ``0 -1 …`` when empty."""
    box = bounding_box(mask)
    if box is None:
        return "0 -1 0 -1 0 -1"
    return " ".join(f"{side.start} {side.stop - 1}" for side in box)


def _name_of(schema: LabelSchema, value: int) -> str:
    return next(item.name for item in schema.labels if item.value == value)


def _segments(
    label: np.ndarray, schema: LabelSchema, region_masks: np.ndarray | None = None
) -> tuple[list[np.ndarray], list[dict[str, str]]]:
    """Layers (X, Y, Z each) and one field dict per segment, in Slicer's order."""
    dtype = np.uint8 if label.max(initial=0) < 256 else np.uint16
    if schema.label_per_channel:  # the regions are the structures: no label-map layer
        masks = [np.isin(label, r.values) if region_masks is None else region_masks[i]
                 for i, r in enumerate(schema.regions)]
        segments = [{"ID": f"Segment_{r.paint}", "Name": _name_of(schema, r.paint), "LabelValue": "1",
                     "Layer": str(i), "color": schema.color_of(r.paint), "Extent": _extent(m)}
                    for i, (r, m) in enumerate(zip(schema.regions, masks))]
        return [m.astype(dtype) for m in masks], segments
    layers = [label.astype(dtype)]
    segments = []
    for item in schema.labels:
        segments.append({"ID": f"Segment_{item.value}", "Name": item.name, "LabelValue": str(item.value),
                         "Layer": "0", "color": item.color, "Extent": _extent(label == item.value)})
    if schema.mode == "overlapping":
        for index, region in enumerate(schema.regions):
            mask = np.isin(label, region.values) if region_masks is None else region_masks[index]
            layers.append(mask.astype(layers[0].dtype))
            segments.append({"ID": f"Region_{_slug(region.name)}", "Name": region.name, "LabelValue": "1",
                             "Layer": str(len(layers) - 1), "color": schema.color_of(region.paint),
                             "Extent": _extent(mask)})
    return layers, segments


def _fortran_stack(layers: list[np.ndarray]) -> np.ndarray:
    """The layers as one (L, X, Y, Z) array in the order the NRRD stores them (Fortran: the layer index
    varies fastest), so writing needs no transposing copy of the whole stack; only the box where some
    layer is set is copied into the zeros."""
    out = np.zeros((len(layers), *layers[0].shape), layers[0].dtype, order="F")
    boxes = [box for box in map(bounding_box, layers) if box is not None]
    if boxes:
        union = tuple(slice(min(b[a].start for b in boxes), max(b[a].stop for b in boxes)) for a in range(3))
        for index, layer in enumerate(layers):
            out[(index, *union)] = layer[union]
    return out


def seg_nrrd_header(affine_ras: np.ndarray, segments: list[dict[str, str]], layered: bool) -> dict:
    """The NRRD header: LPS geometry plus Slicer's segmentation fields."""
    lps = ras_to_lps(affine_ras)
    directions = lps[:3, :3].T  # one row per array axis
    header: dict = {
        "space": "left-posterior-superior",
        "space origin": lps[:3, 3],
        "space directions": np.vstack([np.full((1, 3), np.nan), directions]) if layered else directions,
        "kinds": (["list"] if layered else []) + ["domain"] * 3,
        "encoding": "gzip",
        "Segmentation_MasterRepresentation": "Binary labelmap",
        "Segmentation_ContainedRepresentationNames": "Binary labelmap|",
        "Segmentation_ReferenceImageExtentOffset": "0 0 0",
    }
    for index, segment in enumerate(segments):
        prefix = f"Segment{index}_"
        header[prefix + "Color"] = " ".join(f"{c / 255:.6g}" for c in segment["color"])
        header[prefix + "ColorAutoGenerated"] = "0"
        header[prefix + "NameAutoGenerated"] = "0"
        header[prefix + "Tags"] = "|"
        for key in ("ID", "Name", "LabelValue", "Layer", "Extent"):
            header[prefix + key] = segment[key]
    return header


def write_seg_nrrd(
    label: np.ndarray, reference: str | Path, schema: LabelSchema, output: str | Path,
    region_masks: np.ndarray | None = None,
) -> Path:
    """Write ``label`` (on the reference's grid) as a Slicer segmentation, atomically.

    ``region_masks`` (overlapping schemas): one boolean mask per region, (R, *spatial).
    """
    import nrrd

    ref = load_nifti_header(reference)
    shape = tuple(int(s) for s in ref.shape[:3])
    label = np.asarray(label)
    if label.ndim == 2:  # a 2D image is an X×Y×1 volume in NIfTI and in Slicer
        label = label[..., None]
    if region_masks is not None:
        region_masks = np.asarray(region_masks, bool).reshape(len(schema.regions), *shape)
    if label.shape != shape:
        raise OutputError(f"label shape {label.shape} does not match the input grid {shape}", reference)
    layers, segments = _segments(label, schema, region_masks)
    layered = len(layers) > 1
    data = _fortran_stack(layers) if layered else layers[0]
    header = seg_nrrd_header(viewer_affine(ref), segments, layered)
    with atomic_path(output) as tmp:
        # gzip level 1: a sparse label volume compresses almost as well as at the default 9, several times faster
        nrrd.write(str(tmp), data, header, index_order="F", compression_level=1)
    return Path(output)


def color_table_text(schema: LabelSchema) -> str:
    """Slicer's colour-table format: ``value name R G B A``, names without spaces."""
    lines = ["# medseg colour table (3D Slicer format): value name R G B A",
             f"# {len(schema.labels) + 1} values", "0 background 0 0 0 0"]
    for item in sorted(schema.labels, key=lambda label: label.value):
        lines.append(f"{item.value} {_slug(item.name)} {item.color[0]} {item.color[1]} {item.color[2]} 255")
    return "\n".join(lines) + "\n"


def write_color_table(schema: LabelSchema, output: str | Path) -> Path:
    """Write the schema's colour table (``.ctbl``; Slicer also reads it as ``.txt``)."""
    return write_text_atomic(output, color_table_text(schema))


class SlicerSegWriter:
    """``<case>.seg.nrrd``: named, coloured segments that open in 3D Slicer on top of the study.

    Overlapping regions are the prediction's masks (``Prediction.region_masks``), which agree with the label map.
    """

    def __call__(self, prediction: Prediction, output_dir: Path) -> list[Path]:
        case = prediction.case
        output = Path(output_dir) / f"{case.case_id}.seg.nrrd"
        ensure_not_input(output, list(case.images))
        return [write_seg_nrrd(prediction.label, case.reference, prediction.schema, output,
                               prediction.region_masks())]


class ColorTableWriter:
    """``<name>.ctbl`` beside the labels, so a plain NIfTI label map shows the schema's names and colours."""

    def __init__(self, name: str = "labels") -> None:
        self.name = name

    def __call__(self, prediction: Prediction, output_dir: Path) -> list[Path]:
        return [write_color_table(prediction.schema, Path(output_dir) / f"{self.name}.ctbl")]
