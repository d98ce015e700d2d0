"""Missing sequences: fill them at load time, and drop sequences at random in training.

Both put zeros in a channel *after* the per-channel z-score (MONAI's ``NormalizeIntensityd`` with
``nonzero=True`` leaves an all-zero channel at zero), i.e. the brain's mean intensity, so a study
that lacks T1 at inference looks to the network exactly like a training patch whose T1 was dropped.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from itertools import combinations
from typing import Any

import numpy as np
import torch
from monai.config import KeysCollection
from monai.transforms import MapTransform, RandomizableTransform


class FillMissingChannelsd(MapTransform):
    """Insert a zero channel at each index of ``item["missing_channels"]`` (bundle channel order).

    The item's image holds only the sequences the study has, in bundle order; the key is removed so
    batches collate as before. Items without the key pass through unchanged.
    """

    def __init__(self, keys: KeysCollection = "image", missing_key: str = "missing_channels") -> None:
        super().__init__(keys, allow_missing_keys=True)
        self.missing_key = missing_key

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        missing = sorted(int(i) for i in d.pop(self.missing_key, None) or ())
        if not missing:
            return d
        for key in self.key_iterator(d):
            image = d[key]
            plain = image.as_tensor() if hasattr(image, "as_tensor") else torch.as_tensor(image)
            present = [i for i in range(plain.shape[0] + len(missing)) if i not in missing]
            filled = plain.new_zeros((len(present) + len(missing), *plain.shape[1:]))
            filled[present] = plain
            if hasattr(image, "meta"):
                from monai.data import MetaTensor

                filled = MetaTensor(filled, meta=image.meta, applied_operations=image.applied_operations)
            d[key] = filled
        return d


class RandModalityDropoutd(RandomizableTransform, MapTransform):
    """With probability ``prob``, zero every channel outside a random supported subset.

    Supported subsets are those holding at least one of ``require_any`` (all non-empty subsets when
    it is empty); the full set is excluded, so a dropout always drops something. Each subset is
    equally likely, so a model sees FLAIR+T1ce alone as often as T1+T2+FLAIR.
    """

    def __init__(self, keys: KeysCollection, modalities: Sequence[str], require_any: Sequence[str] | None = None,
                 prob: float = 0.3) -> None:
        MapTransform.__init__(self, keys)
        RandomizableTransform.__init__(self, prob)
        names = list(modalities)
        required = {names.index(m) for m in (require_any or ())}
        everything = range(len(names))
        self.subsets = [
            kept for size in range(1, len(names)) for kept in combinations(everything, size)
            if not required or required & set(kept)
        ]
        self.kept: tuple[int, ...] = tuple(everything)

    def randomize(self, data: Any = None) -> None:
        super().randomize(None)
        if self._do_transform and self.subsets:
            self.kept = self.subsets[int(self.R.randint(len(self.subsets)))]

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        self.randomize()
        if not self._do_transform or not self.subsets:
            return d
        for key in self.key_iterator(d):
            image = d[key]
            dropped = np.setdiff1d(np.arange(image.shape[0]), self.kept)
            image = image.clone() if hasattr(image, "clone") else np.array(image, copy=True)
            image[list(dropped)] = 0
            d[key] = image
        return d
