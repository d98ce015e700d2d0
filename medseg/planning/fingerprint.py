"""A dataset's fingerprint: what the planner needs to know about the training cases.

Spacings and shapes are taken after the same loading the training chain does (channel order and
label map from the manifest, reorientation to RAS), so axis *i* here is axis *i* of every patch.
Shapes are those of the box around the foreground (the head or brain): the volume the network
actually sees. The foreground is every voxel that differs from the background value of some
channel, where a channel's background is the most common value on its border: 0 for skull-stripped
MRI, but also the constant negative value of z-scored data (BraTS 2015 as shipped by DeepMedic, where
a "non-zero" crop would keep the whole volume). Works for any number of spatial dimensions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from medseg.data.manifest import load_manifest
from medseg.transforms.volume import loading_transforms

MAX_INTENSITY_SAMPLES = 20_000  # foreground voxels drawn per case and channel for the statistics


@dataclass
class CaseFingerprint:
    """One case: spacing and shapes per spatial axis (RAS order), foreground statistics."""

    spacing: tuple[float, ...]
    shape: tuple[int, ...]
    cropped_shape: tuple[int, ...]
    label_voxels: dict[int, int]
    foreground_voxels: int
    samples: list[np.ndarray] = field(repr=False, default_factory=list)  # per channel, foreground intensities


@dataclass
class Fingerprint:
    """The dataset: per-case spacings and cropped shapes, per-channel intensities, class frequencies."""

    spacings: list[list[float]]
    shapes: list[list[int]]
    cropped_shapes: list[list[int]]
    intensity: list[dict[str, float]]  # per channel: mean, std, median, p00_5, p99_5 over the foreground
    class_frequency: dict[str, float]  # label value -> fraction of foreground voxels
    modalities: list[str]
    sequence_share: dict[str, float] = field(default_factory=dict)  # per modality: share of cases that have it

    @property
    def spatial_dims(self) -> int:
        return len(self.spacings[0])

    @property
    def median_spacing(self) -> np.ndarray:
        return np.median(np.asarray(self.spacings, dtype=float), axis=0)

    @property
    def median_shape(self) -> np.ndarray:
        """Median foreground-box shape in voxels of the case's own spacing."""
        return np.median(np.asarray(self.cropped_shapes, dtype=float), axis=0)

    def median_shape_at(self, spacing: Sequence[float]) -> np.ndarray:
        """Median foreground-box shape after resampling each case to ``spacing``."""
        extent = np.asarray(self.cropped_shapes, dtype=float) * np.asarray(self.spacings, dtype=float)
        return np.median(extent / np.asarray(spacing, dtype=float), axis=0)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Fingerprint:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


def border_background(channel: np.ndarray) -> float:
    """The most common value on the volume's border faces (the background, whatever its value)."""
    faces = [np.take(channel, index, axis=axis).ravel() for axis in range(channel.ndim) for index in (0, -1)]
    values, counts = np.unique(np.concatenate(faces), return_counts=True)
    return float(values[np.argmax(counts)])


def foreground_mask(image: np.ndarray, tolerance: float = 1e-4) -> np.ndarray:
    """Voxels where any channel (axis 0) differs from its border background value."""
    mask = np.zeros(image.shape[1:], dtype=bool)
    for channel in image:
        background = border_background(channel)
        mask |= np.abs(channel - background) > tolerance * max(1.0, abs(background))
    return mask


def bounding_box_shape(mask: np.ndarray) -> tuple[int, ...]:
    """Shape of the box around ``mask``'s true voxels (the whole shape when it has none)."""
    if not mask.any():
        return tuple(int(s) for s in mask.shape)
    shape = []
    for axis in range(mask.ndim):
        hit = np.flatnonzero(mask.any(axis=tuple(a for a in range(mask.ndim) if a != axis)))
        shape.append(int(hit[-1] - hit[0] + 1))
    return tuple(shape)


def fingerprint_case(image: np.ndarray, label: np.ndarray | None, spacing: Sequence[float],
                     rng: np.random.Generator) -> CaseFingerprint:
    """One case from its image (C, *spatial), label (*spatial) and spacing per spatial axis."""
    mask = foreground_mask(image)
    counts: dict[int, int] = {}
    if label is not None:
        values, numbers = np.unique(np.round(label).astype(np.int64), return_counts=True)
        counts = {int(v): int(n) for v, n in zip(values, numbers) if v != 0}
    index = np.flatnonzero(mask.ravel())
    if index.size > MAX_INTENSITY_SAMPLES:
        index = rng.choice(index, MAX_INTENSITY_SAMPLES, replace=False)
    samples = [channel.ravel()[index].astype(np.float32) for channel in image]
    return CaseFingerprint(tuple(float(s) for s in spacing), tuple(int(s) for s in image.shape[1:]),
                           bounding_box_shape(mask), counts, int(mask.sum()), samples)


def summarise(cases: Sequence[CaseFingerprint], modalities: Sequence[str]) -> Fingerprint:
    """Pool the cases: spacing/shape lists, intensity percentiles per channel, class frequencies."""
    intensity = []
    for c in range(len(cases[0].samples)):
        pooled = np.concatenate([case.samples[c] for case in cases])
        intensity.append({"mean": float(pooled.mean()), "std": float(pooled.std()), "median": float(np.median(pooled)),
                          "p00_5": float(np.percentile(pooled, 0.5)), "p99_5": float(np.percentile(pooled, 99.5))})
    foreground = sum(case.foreground_voxels for case in cases) or 1
    values = sorted({v for case in cases for v in case.label_voxels})
    frequency = {str(v): sum(case.label_voxels.get(v, 0) for case in cases) / foreground for v in values}
    names = list(modalities) if len(modalities) == len(intensity) else [f"channel{c}" for c in range(len(intensity))]
    return Fingerprint([list(c.spacing) for c in cases], [list(c.shape) for c in cases],
                       [list(c.cropped_shape) for c in cases], intensity, frequency, names)


def load_volume_case(item: dict[str, Any]) -> tuple[np.ndarray, np.ndarray | None, tuple[float, ...]]:
    """A manifest item loaded the way the 3D training chain loads it (conformed, RAS)."""
    keys = ["image", "label"] if item.get("label") else ["image"]
    data = loading_transforms(keys, "RAS")(dict(item))
    image = data["image"]
    spacing = tuple(float(s) for s in image.pixdim[: image.ndim - 1])
    label = np.asarray(data["label"])[0] if "label" in data else None
    return np.asarray(image), label, spacing


def fingerprint_items(items: Sequence[dict[str, Any]], modalities: Sequence[str] = (),
                      loader: Callable[[dict[str, Any]], tuple] = load_volume_case, max_cases: int = 100,
                      seed: int = 0) -> Fingerprint:
    """Fingerprint manifest items (at most ``max_cases``, drawn at random, for large datasets)."""
    rng = np.random.default_rng(seed)
    chosen = list(items)
    if len(chosen) > max_cases:
        chosen = [chosen[i] for i in sorted(rng.choice(len(chosen), max_cases, replace=False))]
    cases = [fingerprint_case(*loader(item), rng=rng) for item in chosen]
    return summarise(cases, modalities)


def fingerprint_manifest(path, modalities: Sequence[str] = (), max_cases: int = 100) -> Fingerprint:
    """The training (and validation) cases of an MSD-style manifest."""
    manifest = load_manifest(path, modalities=list(modalities))
    cases = manifest.cases("training") + manifest.cases("validation")
    fingerprint = fingerprint_items([manifest.item(c) for c in cases], modalities, max_cases=max_cases)
    if modalities and cases:  # counted over every case (headers only), not the sample the statistics use
        fingerprint.sequence_share = {m: sum(m not in c.missing for c in cases) / len(cases) for m in modalities}
    return fingerprint
