"""Network topology from spacing and patch size (nnU-Net's rules, as MONAI ``DynUNet`` arguments).

An axis is pooled while its spacing is less than twice the finest current spacing and its feature
map stays at least ``2 * min_feature`` voxels; a kernel is 3 along an axis once that axis's spacing
is within a factor 2 of the finest, else 1 (so a 5 mm slice axis gets in-plane convolutions until
pooling has brought the in-plane spacing near 5 mm). Works for 2D and 3D alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Topology:
    """Per level: kernel size and stride per axis (level 0 has stride 1); the patch divisor per axis."""

    kernel_size: tuple[tuple[int, ...], ...]
    strides: tuple[tuple[int, ...], ...]

    @property
    def levels(self) -> int:
        return len(self.strides)

    @property
    def divisor(self) -> tuple[int, ...]:
        """Every patch axis must be a multiple of the product of its strides."""
        return tuple(int(np.prod([s[a] for s in self.strides])) for a in range(len(self.strides[0])))

    def voxels_per_level(self, patch_size: Sequence[int]) -> list[int]:
        """Feature-map voxels at each level for a patch."""
        size = np.asarray(patch_size, dtype=float)
        out = []
        for stride in self.strides:
            size = np.ceil(size / np.asarray(stride))
            out.append(int(np.prod(size)))
        return out


def plan_topology(spacing: Sequence[float], patch_size: Sequence[int], min_feature: int = 4,
                  max_levels: int = 7) -> Topology:
    """Kernels and strides for a patch at a spacing (nnU-Net's ``get_pool_and_conv_props``)."""
    dims = len(spacing)
    current_spacing = [float(s) for s in spacing]
    current_size = [float(s) for s in patch_size]
    kernel = [3 if s / min(current_spacing) < 2 else 1 for s in current_spacing]
    kernels, strides = [tuple(kernel)], [(1,) * dims]
    while len(strides) < max_levels:
        valid = [a for a in range(dims) if current_size[a] >= 2 * min_feature]
        if not valid:
            break
        finest = min(current_spacing[a] for a in valid)
        valid = [a for a in valid if current_spacing[a] / finest < 2]
        if len(valid) == 1 and current_size[valid[0]] < 3 * min_feature:
            break  # pooling one axis alone only pays while it is still large
        if not valid:
            break
        stride = [2 if a in valid else 1 for a in range(dims)]
        for a in valid:
            current_spacing[a] *= 2
            current_size[a] = np.ceil(current_size[a] / 2)
        kernel = [3 if k == 3 or current_spacing[a] / min(current_spacing) < 2 else 1 for a, k in enumerate(kernel)]
        strides.append(tuple(stride))
        kernels.append(tuple(kernel))
    return Topology(tuple(kernels), tuple(strides))


def round_to_divisor(patch_size: Sequence[int], divisor: Sequence[int]) -> tuple[int, ...]:
    """Each axis rounded up to a multiple of its divisor."""
    return tuple(int(np.ceil(p / d) * d) for p, d in zip(patch_size, divisor))


def filters_per_level(levels: int, base: int, cap: int) -> tuple[int, ...]:
    """Feature maps double per level from ``base``, capped (nnU-Net: 32 to 320 in 3D)."""
    return tuple(min(base * 2**i, cap) for i in range(levels))
