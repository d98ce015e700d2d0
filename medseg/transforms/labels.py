"""Label-map transforms driven by the label schema."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

import numpy as np
import torch
from monai.data import MetaTensor
from monai.transforms import MapTransform

from medseg.labels import LabelSchema

STRUCTURE_CHANNELS = "medseg_structure_channels"  # meta flag: one binary channel per structure already


class LabelToChannelsd(MapTransform):
    """Turn a label map into the network's target channels (regions or one-hot) per the schema.

    Unknown label values raise ``InputError`` naming the label file, so a wrongly coded dataset
    fails before it silently trains a wrong model. A stack of per-structure masks (meta
    ``STRUCTURE_CHANNELS``, one file per channel as SCR stores them) already is the target.
    """

    def __init__(self, keys: Any, schema: LabelSchema, allow_missing_keys: bool = False) -> None:
        super().__init__(keys, allow_missing_keys)
        self.schema = schema

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        for key in self.key_iterator(d):
            label = d[key]
            if isinstance(label, MetaTensor) and label.meta.get(STRUCTURE_CHANNELS):
                continue
            array = label.detach().cpu().numpy() if isinstance(label, torch.Tensor) else np.asarray(label)
            source = getattr(label, "meta", {}).get("filename_or_obj")
            self.schema.check_label_values(np.rint(array).astype(np.int64), source)
            channels = torch.from_numpy(self.schema.label_map_to_channels(np.rint(array)))
            meta = label.meta if isinstance(label, MetaTensor) else None
            ops = label.applied_operations if isinstance(label, MetaTensor) else None
            d[key] = MetaTensor(channels, meta=meta, applied_operations=ops)
        return d
