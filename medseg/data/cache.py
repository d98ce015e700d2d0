"""Datasets that decode and preprocess each file once, not once per epoch.

``disk`` (the default) is MONAI's ``PersistentDataset``: the output of the deterministic head of
the transform chain is saved under the cache folder, keyed by a hash of the item (paths, label
map) plus each file's size and modification time, plus a hash of the transform chain's
parameters. Editing a file or a transform parameter therefore misses the cache instead of
training on stale arrays. ``memory`` is MONAI's ``CacheDataset``; ``none`` decodes every time.
``auto`` keeps the data in memory when its decoded size fits a quarter of the machine's RAM (no
disk round trip per item: the demo data then loads fast enough to keep the step busy) and uses
the disk cache otherwise.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import monai
import numpy as np

from medseg import __version__
from medseg.errors import InputError
from medseg.locations import default_cache_dir

CACHE_MODES = ("auto", "disk", "memory", "none")
MEMORY_SHARE = 0.25  # of physical RAM that ``auto`` may fill with decoded volumes


def _file_stats(value: Any) -> list[Any]:
    """(path, size, mtime) of every existing file named in an item, so edits change the key."""
    if isinstance(value, dict):
        return [s for v in value.values() for s in _file_stats(v)]
    if isinstance(value, list | tuple):
        return [s for v in value for s in _file_stats(v)]
    if isinstance(value, str | os.PathLike) and os.path.isfile(value):
        stat = os.stat(value)
        return [[str(value), stat.st_size, stat.st_mtime_ns]]
    return []


def item_hash(item: dict[str, Any]) -> bytes:
    """Key of one cached item: its content (paths, maps) and the size/mtime of its files."""
    payload = json.dumps({"item": item, "files": _file_stats(item)}, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest().encode()


def describe(obj: Any, depth: int = 0) -> Any:
    """A JSON-able description of a transform's parameters (no memory addresses, no RNG state)."""
    if isinstance(obj, str | int | float | bool) or obj is None:
        return obj
    if depth > 6:
        return type(obj).__qualname__
    if isinstance(obj, dict):
        return {str(k): describe(v, depth + 1) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set | frozenset):
        items = [describe(v, depth + 1) for v in obj]
        return sorted(items, key=repr) if isinstance(obj, set | frozenset) else items
    if isinstance(obj, type):
        return obj.__module__ + "." + obj.__qualname__
    if hasattr(obj, "tolist"):  # numpy arrays and tensors
        return obj.tolist()
    if callable(obj) and not hasattr(obj, "__dict__"):
        return getattr(obj, "__qualname__", type(obj).__qualname__)
    fields = {k: v for k, v in getattr(obj, "__dict__", {}).items() if k not in ("R", "_rand_state")}
    return {type(obj).__module__ + "." + type(obj).__qualname__: describe(fields, depth + 1)}


def transform_hash(transforms: Sequence[Callable]) -> bytes:
    """Hash of the deterministic transforms' classes and parameters, and the library versions."""
    payload = json.dumps([monai.__version__, __version__, describe(list(transforms))], sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest().encode()


def decoded_bytes(items: list[dict[str, Any]]) -> int:
    """Rough float32 size of every image and label once decoded (NIfTI from headers, else 4x the file)."""
    import nibabel as nib

    total = 0
    for item in items:
        for key in ("image", "label"):
            paths = item.get(key) or []
            for path in [paths] if isinstance(paths, str | Path) else paths:
                name = str(path)
                try:
                    voxels = int(np.prod(nib.load(name).shape)) if name.endswith((".nii", ".nii.gz")) else 0
                except Exception:  # noqa: BLE001 - unreadable files are the data check's business
                    voxels = 0
                total += 4 * voxels if voxels else 4 * (os.path.getsize(name) if os.path.exists(name) else 0)
    return 2 * total  # one-hot targets and cached crop indices come on top of the decoded arrays


def make_dataset(items: list[dict[str, Any]], transform: Callable, cache: str = "disk",
                 cache_dir: str | Path | None = None):
    """A MONAI dataset over ``items`` with the chosen cache (see the module docstring)."""
    from monai.data import CacheDataset, Dataset, PersistentDataset

    if cache not in CACHE_MODES:
        raise InputError(f"cache must be one of {CACHE_MODES}, got {cache!r}")
    if cache == "auto":
        memory = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        cache = "memory" if decoded_bytes(items) <= MEMORY_SHARE * memory else "disk"
    if cache == "none":
        return Dataset(items, transform)
    if cache == "memory":
        return CacheDataset(items, transform, progress=False)
    if cache_dir is None or str(cache_dir) == "":
        cache_dir = default_cache_dir() / "preprocessed"
    Path(cache_dir).mkdir(parents=True, exist_ok=True)
    return PersistentDataset(items, transform, cache_dir=cache_dir, hash_func=item_hash,
                             hash_transform=transform_hash)
