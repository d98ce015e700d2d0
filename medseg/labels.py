"""The label schema: what each network channel means and how it becomes a label map.

The schema lives in a bundle's ``configs/metadata.json`` under ``medseg`` and drives the loss,
the writer, the metrics and the colour table, so nothing about labels is hard-coded elsewhere.

Two modes:

* ``exclusive``: channel 0 is background, channel *i* is ``labels[i-1]``; softmax + argmax.
* ``overlapping``: each channel is a region (a set of label values, e.g. BraTS WT = {1, 2, 4});
  sigmoid + threshold per channel; the label map is painted channel by channel in ``channels``
  order with each channel's ``paint`` value, so later channels win where regions overlap.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from medseg.errors import BundleError, InputError

MODES = ("exclusive", "overlapping")


@dataclass(frozen=True)
class Label:
    """One value of the written label map."""

    name: str
    value: int
    color: tuple[int, int, int]


@dataclass(frozen=True)
class Channel:
    """One network output channel (overlapping mode): a region made of label values."""

    name: str
    values: tuple[int, ...]
    paint: int


@dataclass(frozen=True)
class LabelSchema:
    """Names, values, colours and channel semantics of one task."""

    mode: str
    labels: tuple[Label, ...]
    channels: tuple[Channel, ...]
    lateral: bool = True  # some label names a side (left lung): a left-right mirror would mislabel it

    @classmethod
    def from_metadata(cls, metadata: dict[str, Any], source: str | Path | None = None) -> LabelSchema:
        """Build the schema from a bundle's metadata dict (its ``medseg`` section)."""
        try:
            section = metadata["medseg"]
            mode = section["mode"]
            labels = tuple(
                Label(str(item["name"]), int(item["value"]), tuple(int(c) for c in item["color"]))
                for item in section["labels"]
            )
            channels = tuple(
                Channel(str(item["name"]), tuple(int(v) for v in item["values"]), int(item["paint"]))
                for item in section.get("channels", [])
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise BundleError(f"invalid label schema in metadata ({exc!r})", source) from exc
        schema = cls(mode, labels, channels, bool(section.get("lateral_labels", True)))
        schema.validate(source)
        return schema

    @classmethod
    def from_bundle(cls, bundle_root: str | Path) -> LabelSchema:
        """Read the schema from ``<bundle_root>/configs/metadata.json``."""
        path = Path(bundle_root) / "configs" / "metadata.json"
        try:
            metadata = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise BundleError(f"cannot read bundle metadata ({exc})", path) from exc
        return cls.from_metadata(metadata, path)

    def validate(self, source: str | Path | None = None) -> None:
        """Refuse schemas that would silently mislabel voxels."""
        if self.mode not in MODES:
            raise BundleError(f"label mode must be one of {MODES}, got {self.mode!r}", source)
        values = [label.value for label in self.labels]
        if len(set(values)) != len(values) or 0 in values:
            raise BundleError("label values must be unique and non-zero (0 is background)", source)
        if self.mode == "overlapping":
            if not self.channels:
                raise BundleError("overlapping mode needs a 'channels' list", source)
            for channel in self.channels:
                unknown = set(channel.values) - set(values)
                if unknown or channel.paint not in values:
                    raise BundleError(f"channel {channel.name!r} uses undeclared label values", source)

    def mirror_axes(self, dims: int, lateral_axis: int = 0) -> tuple[int, ...]:
        """Axes a training mirror may flip without changing what the labels mean.

        Declared in the metadata (``medseg.lateral_labels``: false when no label names a side, as for
        BraTS regions); otherwise the left-right axis (axis 0 in RAS) is left out.
        """
        return tuple(a for a in range(dims) if not (self.lateral and a == lateral_axis))

    def output_differences(self, other: LabelSchema) -> list[str]:
        """What makes this schema's probabilities mean something else than ``other``'s, as "this vs other"
        (empty: they can be averaged). Colours and ``lateral`` (what a mirror may flip) change no output."""
        def labels(schema: LabelSchema) -> list[str]:
            return [f"{label.value} {label.name}" for label in schema.labels]

        def channels(schema: LabelSchema) -> list[str]:
            return [f"{c.name}={'+'.join(map(str, c.values))}" for c in schema.channels]

        found = []
        for what, mine, theirs in (("label mode", self.mode, other.mode), ("labels", labels(self), labels(other)),
                                   ("channels", channels(self), channels(other))):
            if mine != theirs:
                found.append(f"{what} {mine} vs {theirs}")
        return found

    @property
    def label_values(self) -> tuple[int, ...]:
        return tuple(label.value for label in self.labels)

    @property
    def num_channels(self) -> int:
        """Network output channels (background included in exclusive mode)."""
        return len(self.labels) + 1 if self.mode == "exclusive" else len(self.channels)

    @property
    def channel_names(self) -> tuple[str, ...]:
        if self.mode == "exclusive":
            return ("background",) + tuple(label.name for label in self.labels)
        return tuple(channel.name for channel in self.channels)

    @property
    def regions(self) -> tuple[Channel, ...]:
        """Regions scored besides single labels (the overlapping channels, e.g. WT/TC/ET)."""
        return self.channels

    def check_label_values(self, label_map: np.ndarray, path: str | Path | None = None) -> None:
        """Raise if ``label_map`` holds a value the schema does not declare."""
        found = _values(np.asarray(label_map))
        unknown = sorted(set(found.tolist()) - {0, *self.label_values})
        if unknown:
            raise InputError(
                f"label values {_short(unknown)} are not in the schema {sorted(self.label_values)}", path
            )

    def label_map_to_channels(self, label_map: np.ndarray) -> np.ndarray:
        """Training target: one binary channel per network output, from a label map (C, *spatial)."""
        label_map = np.asarray(label_map)
        if label_map.ndim and label_map.shape[0] == 1:
            label_map = label_map[0]
        if self.mode == "exclusive":
            index = np.zeros(label_map.shape, dtype=np.int64)
            for i, label in enumerate(self.labels, start=1):
                index[label_map == label.value] = i
            return np.stack([index == c for c in range(self.num_channels)]).astype(np.float32)
        return np.stack([np.isin(label_map, ch.values) for ch in self.channels]).astype(np.float32)

    def channels_to_label_map(self, masks: np.ndarray) -> np.ndarray:
        """Paint binary channel masks (C, *spatial), overlapping mode, into a label map."""
        out = np.zeros(masks.shape[1:], dtype=np.uint8)
        for channel, mask in zip(self.channels, masks):
            out[np.asarray(mask, dtype=bool)] = channel.paint
        return out

    def argmax_to_label_map(self, index: np.ndarray) -> np.ndarray:
        """Map argmax indices (exclusive mode) to label values."""
        lut = np.array([0, *self.label_values], dtype=np.uint8)
        return lut[np.asarray(index, dtype=np.int64)]

    def color_of(self, value: int) -> tuple[int, int, int]:
        for label in self.labels:
            if label.value == value:
                return label.color
        raise KeyError(value)


def _values(array: np.ndarray) -> np.ndarray:
    """The distinct values of a label map: counting beats sorting 9 M voxels (``np.unique``) by ~50x."""
    if array.size and np.issubdtype(array.dtype, np.integer):
        low, high = int(array.min()), int(array.max())
        if low >= 0 and high < 1 << 16:
            return np.flatnonzero(np.bincount(array.ravel(), minlength=high + 1))
    return np.unique(array)


def _short(values: list) -> str:
    """A value list for a one-line message: a CT map with 117 labels must not print 117 numbers."""
    if len(values) <= 12:
        return str(values)
    return f"[{', '.join(map(str, values[:6]))}, ..., {', '.join(map(str, values[-3:]))}] ({len(values)} values)"
