"""Loading with checks: every voxel-level problem is an ``InputError`` naming the file that has it."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np
from monai.transforms import LoadImaged

from medseg.io.validate import check_voxels, explain_load_failure


class CheckedLoadImaged(LoadImaged):
    """MONAI's ``LoadImaged`` plus the checks a corrupt export needs.

    A file that cannot be read (truncated gzip, a non-NIfTI body) is named; NaN/Inf voxels and,
    for ``nonblank_keys``, an all-zero volume are refused per channel, so with one file per
    modality the error names the modality's own file.
    """

    def __init__(self, keys: Any, nonblank_keys: Sequence[str] = ("image",), **kwargs: Any) -> None:
        super().__init__(keys, **kwargs)
        self.nonblank_keys = set(nonblank_keys)

    def __call__(self, data: Mapping[Hashable, Any], reader: Any = None) -> dict[Hashable, Any]:
        files = {key: _as_list(data[key]) for key in self.key_iterator(dict(data))}
        try:
            d = super().__call__(data, reader)
        except Exception as exc:
            raise explain_load_failure(exc, [p for paths in files.values() for p in paths]) from exc
        for key, paths in files.items():
            array = np.asarray(d[key].detach().cpu().numpy() if hasattr(d[key], "detach") else d[key])
            channels = array if len(paths) == array.shape[0] else [array]
            for path, channel in zip(paths if len(paths) == len(channels) else paths[:1], channels):
                blank_ok = key not in self.nonblank_keys
                check_voxels(channel, path, allow_blank=blank_ok, what="label" if blank_ok else "image")
        return d


def _as_list(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list | tuple) else [str(value)]
