"""Sanity figures for a segmentation, and a warning when they are implausible.

A model trained briefly on phantoms once labelled 1020 mL of a real brain as tumour and nothing
said so. Every case's measurements therefore carry figures a reader can judge at a glance: the
brain (head) volume of the input, the tumour's volume and share of it, how much of the tumour lies
outside the brain, and how many connected pieces each structure is in. A bundle declares its limits
(``MeasurementWriter(plausibility={...})`` in ``inference.json``); a case beyond them gets a
``medseg: warning: <image file>: implausible ...`` line. The limits flag gross failures, not subtle errors.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from medseg.io.geometry import bounding_box
from medseg.labels import LabelSchema
from medseg.transforms.background import constant_background


@dataclass(frozen=True)
class PlausibilityLimits:
    """``structure``: the label or region that is "the lesion" (brain_tumor: WT)."""

    structure: str
    max_fraction_of_brain: float = 0.3
    max_components: int = 10
    max_outside_brain: float = 0.05


def brain_mask(image: np.ndarray) -> np.ndarray:
    """Voxels of the (skull-stripped) input that are not background: 0, or a constant corner value
    for data z-scored upstream (``medseg.transforms.background``)."""
    import torch

    value = constant_background(torch.as_tensor(np.ascontiguousarray(image)))
    return image != (0 if value is None else value)


def count_components(mask: np.ndarray) -> int:
    """Connected pieces (26-connectivity in 3D, 8 in 2D)."""
    from scipy import ndimage

    return int(ndimage.label(mask, structure=np.ones((3,) * mask.ndim, bool))[1])


def _structures(schema: LabelSchema) -> dict[str, tuple[int, ...]]:
    found = {item.name: (item.value,) for item in schema.labels}
    found.update({region.name: tuple(region.values) for region in schema.regions})
    return found


def sanity_figures(label: np.ndarray, image: np.ndarray, voxel_ml: float, schema: LabelSchema,
                   limits: PlausibilityLimits) -> tuple[dict[str, Any], list[str]]:
    """The figures (JSON-able) and the reasons they are implausible (empty when they are not)."""
    label = np.asarray(label)
    brain = brain_mask(np.asarray(image).reshape(label.shape))
    box = bounding_box(label != 0) or tuple(slice(0, 0) for _ in label.shape)  # every structure lies in it
    label, structures = label[box], _structures(schema)
    lesion = np.isin(label, structures[limits.structure])
    brain_ml, lesion_ml = float(brain.sum()) * voxel_ml, float(lesion.sum()) * voxel_ml
    fraction = lesion_ml / brain_ml if brain_ml else float("nan")
    outside = float((lesion & ~brain[box]).sum()) / float(lesion.sum()) if lesion.any() else 0.0
    counted = {values: count_components(np.isin(label, values)) for values in set(structures.values())}
    components = {name: counted[values] for name, values in structures.items()}  # ET is label 4: counted once
    figures = {"structure": limits.structure, "brain_ml": round(brain_ml, 3), "lesion_ml": round(lesion_ml, 3),
               "lesion_fraction_of_brain": round(fraction, 4), "lesion_fraction_outside_brain": round(outside, 4),
               "components": components, "limits": limits.__dict__}
    reasons = []
    if fraction > limits.max_fraction_of_brain:
        reasons.append(f"{limits.structure} is {lesion_ml:.1f} mL, {100 * fraction:.0f}% of the {brain_ml:.0f} mL "
                       f"brain (limit {100 * limits.max_fraction_of_brain:.0f}%)")
    if components[limits.structure] > limits.max_components:
        reasons.append(f"{limits.structure} is in {components[limits.structure]} pieces "
                       f"(limit {limits.max_components})")
    if outside > limits.max_outside_brain:
        reasons.append(f"{100 * outside:.0f}% of {limits.structure} lies outside the brain "
                       f"(limit {100 * limits.max_outside_brain:.0f}%)")
    figures["plausible"] = not reasons
    return figures, reasons


def implausible_message(case_id: str, reasons: list[str]) -> str:
    return (f"{case_id}: implausible segmentation: {'; '.join(reasons)}; check the input sequences and "
            f"whether the model was trained on data like this study")
