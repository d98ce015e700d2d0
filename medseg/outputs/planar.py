"""The writers for 2D images: the label map (a palette PNG at the input's own size, or a NIfTI like a NIfTI
input) and an overlay of the labels on the image, in the schema's colours."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from medseg.errors import InputError
from medseg.io.atomic import atomic_path, ensure_not_input
from medseg.io.read import is_nifti
from medseg.labels import LabelSchema
from medseg.outputs.nifti import NiftiLabelWriter
from medseg.outputs.prediction import Prediction


class PlanarLabelWriter:
    """``<case>_seg.png`` or NIfTI like the input. The PNG is a palette image at the input's width × height:
    its pixel values (indices) are the label values, and its palette shows each label in the schema's colour
    (unused indices black), so a viewer shows the classes while a reader gets the values."""

    def __init__(self, suffix: str = "_seg") -> None:
        self.suffix = suffix

    def __call__(self, prediction: Prediction, output_dir: Path) -> list[Path]:
        from PIL import Image

        case = prediction.case
        if is_nifti(case.reference):
            return NiftiLabelWriter(self.suffix)(prediction, output_dir)
        output = Path(output_dir) / f"{case.case_id}{self.suffix}.png"
        ensure_not_input(output, list(case.images))
        label = np.asarray(prediction.label)
        size = Image.open(case.reference).size
        if label.shape != size:  # MONAI's PILReader gives (width, height)
            raise InputError(f"label shape {label.shape} does not match the input size {size}", case.reference)
        with atomic_path(output) as tmp:
            image = Image.fromarray(np.ascontiguousarray(label.T.astype(np.uint8)), mode="L").convert("P")
            image.putpalette(palette(prediction.schema))
            image.save(tmp, format="PNG")
        return [output]


class PlanarOverlayWriter:
    """``<case>_overlay.png``: the image with every label blended in its schema colour (``alpha``), so a reader
    sees the classes on the scene; ``medseg report`` shows it beside the measurements. Bitmap inputs only (a
    NIfTI input's overlays are drawn by the report from its label file)."""

    def __init__(self, alpha: float = 0.45) -> None:
        self.alpha = float(alpha)

    def __call__(self, prediction: Prediction, output_dir: Path) -> list[Path]:
        from PIL import Image

        case, schema = prediction.case, prediction.schema
        if is_nifti(case.reference):
            return []
        output = Path(output_dir) / f"{case.case_id}_overlay.png"
        ensure_not_input(output, list(case.images))
        with Image.open(case.reference) as image:
            rgb = np.asarray(image.convert("RGB"), np.float32)  # rows, columns
        label = np.asarray(prediction.label).T
        if label.shape != rgb.shape[:2]:
            raise InputError(f"label shape {label.shape[::-1]} does not match the input size", case.reference)
        colours = np.asarray(palette(schema), np.float32).reshape(256, 3)
        shown = np.isin(label, schema.label_values)[..., None]
        blended = np.where(shown, (1 - self.alpha) * rgb + self.alpha * colours[np.clip(label, 0, 255)], rgb)
        with atomic_path(output) as tmp:
            Image.fromarray(blended.round().astype(np.uint8), mode="RGB").save(tmp, format="PNG")
        return [output]


def palette(schema: LabelSchema) -> list[int]:
    """A 256-entry PNG palette: index = label value, coloured as the schema colours it."""
    colours = np.zeros((256, 3), np.uint8)
    for label in schema.labels:
        if label.value < 256:
            colours[label.value] = label.color
    return colours.ravel().tolist()
