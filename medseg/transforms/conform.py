"""Bring a case coded the way its dataset codes it onto the bundle's coding (data, not branches).

Importers store a ``label_map`` (source value → bundle value) and, for 4D images, a
``channel_order`` in the manifest; ``Manifest.item`` puts them into each item and this transform
applies them right after loading, then drops the keys so batches collate as before.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

import torch
from monai.transforms import Transform

from medseg.errors import InputError


class ConformCased(Transform):
    """Reorder image channels per ``channel_order`` and remap label values per ``label_map``."""

    def __init__(self, image_key: str = "image", label_key: str = "label") -> None:
        self.image_key, self.label_key = image_key, label_key

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        order = d.pop("channel_order", None)
        mapping = d.pop("label_map", None)
        if order is not None and self.image_key in d:
            image = d[self.image_key]
            if max(order) >= image.shape[0]:
                source = getattr(image, "meta", {}).get("filename_or_obj")
                raise InputError(f"channel_order {order} needs {max(order) + 1} channels, image has {image.shape[0]}",
                                 source)
            d[self.image_key] = image[list(order)]
        if mapping and self.label_key in d:
            d[self.label_key] = remap_labels(d[self.label_key], {int(k): int(v) for k, v in mapping.items()})
        return d


def remap_labels(label: torch.Tensor, mapping: dict[int, int]) -> torch.Tensor:
    """Map label values simultaneously (so 1→2, 2→1 swaps); values not in ``mapping`` stay."""
    values = torch.round(label.as_tensor() if hasattr(label, "as_tensor") else torch.as_tensor(label))
    out = values.clone()
    for src, dst in mapping.items():
        out[values == src] = dst
    if hasattr(label, "meta"):
        from monai.data import MetaTensor

        return MetaTensor(out, meta=label.meta, applied_operations=label.applied_operations)
    return out

