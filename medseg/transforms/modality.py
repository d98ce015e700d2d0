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


def _zero_channels(image: Any, channels: Sequence[int]) -> Any:
    """A copy of ``image`` (tensor or array) with ``channels`` set to zero; the input is left as it was."""
    image = image.clone() if hasattr(image, "clone") else np.array(image, copy=True)
    image[list(channels)] = 0
    return image


class FillMissingChannelsd(MapTransform):
    """Insert a zero channel at each index of ``item["missing_channels"]`` (bundle channel order), and
    zero each present channel of ``item["blank_channels"]``: a sequence the run does not use (its
    training cases rarely had it, ``medseg.planning.plan``) reaches the network as if the study lacked it.

    The item's image holds only the sequences the study has, in bundle order; the keys are removed so
    batches collate as before. Items without them pass through unchanged.
    """

    def __init__(self, keys: KeysCollection = "image", missing_key: str = "missing_channels",
                 blank_key: str = "blank_channels") -> None:
        super().__init__(keys, allow_missing_keys=True)
        self.missing_key = missing_key
        self.blank_key = blank_key

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        missing = sorted(int(i) for i in d.pop(self.missing_key, None) or ())
        blank = sorted(int(i) for i in d.pop(self.blank_key, None) or ())
        if missing:
            d = self._fill(d, missing)
        for key in self.key_iterator(d) if blank else ():
            d[key] = _zero_channels(d[key], blank)
        return d

    def _fill(self, d: dict[Hashable, Any], missing: list[int]) -> dict[Hashable, Any]:
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
    it is empty). ``among="all"``: a subset of the bundle's modalities, the full set excluded, each
    equally likely (channels the study lacks stay zero, so for a FLAIR+T1ce study most draws drop
    nothing). ``among="present"``: a supported proper subset of the sequences this patch has (its
    non-zero channels), each equally likely, so a FLAIR+T1ce study is seen as FLAIR alone or T1ce
    alone, each half of the dropouts: whole subsets, as studies come, and no wasted draw.
    """

    def __init__(self, keys: KeysCollection, modalities: Sequence[str], require_any: Sequence[str] | None = None,
                 prob: float = 0.3, among: str = "all") -> None:
        MapTransform.__init__(self, keys)
        RandomizableTransform.__init__(self, prob)
        if among not in ("all", "present"):
            raise ValueError(f"among must be 'all' or 'present', got {among!r}")
        names = list(modalities)
        self.required = {names.index(m) for m in (require_any or ())}
        self.n_channels = len(names)
        self.among = among
        self.subsets = self._supported(range(self.n_channels))
        self.kept: tuple[int, ...] = tuple(range(self.n_channels))

    def _supported(self, channels) -> list[tuple[int, ...]]:
        """The supported proper, non-empty subsets of ``channels``."""
        channels = tuple(channels)
        return [kept for size in range(1, len(channels)) for kept in combinations(channels, size)
                if not self.required or self.required & set(kept)]

    def randomize(self, data: Any = None) -> None:
        super().randomize(None)
        candidates = self.subsets if data is None else self._supported(data)
        if self._do_transform and candidates:
            self.kept = candidates[int(self.R.randint(len(candidates)))]
        elif self._do_transform:
            self._do_transform = False  # nothing supported to drop to (e.g. one sequence present)

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        first = d[self.first_key(d)]
        present = None
        if self.among == "present":
            flat = first.reshape(first.shape[0], -1)
            present = [c for c in range(first.shape[0]) if bool((flat[c] != 0).any())]
        self.randomize(present)
        if not self._do_transform:
            return d
        for key in self.key_iterator(d):
            image = d[key]
            d[key] = _zero_channels(image, [c for c in range(image.shape[0]) if c not in self.kept])
        return d
