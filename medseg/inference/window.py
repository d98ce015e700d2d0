"""The sliding window a ``Predictor`` runs: the training-sized ROI, or the whole image in one pass where safe."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch


def window_dependent(network: torch.nn.Module) -> bool:
    """Whether the network normalises over the window (instance or group norm): its statistics then
    come from what the window holds, so a whole brain in one pass is not what the network learnt on
    its training patches. Measured on cross-validated real BraTS cases (benchmarks/RESULTS.md): the
    one pass made whole-tumour masks 2-5x too large where the training-sized window did not."""
    return any(isinstance(m, torch.nn.modules.instancenorm._InstanceNorm | torch.nn.GroupNorm)
               for m in network.modules())


def size_divisor(network: torch.nn.Module, spatial_dims: int) -> tuple[int, ...]:
    """What each window axis must be a multiple of: the product of a ``DynUNet``'s strides, else 16."""
    if type(network).__name__ != "DynUNet":
        return (16,) * spatial_dims
    per_axis = [s if isinstance(s, list | tuple) else [s] * spatial_dims for s in network.strides]
    return tuple(int(np.prod([s[a] for s in per_axis])) for a in range(spatial_dims))


def window_for(network: torch.nn.Module, roi_size: Sequence[int], whole_volume_voxels: int,
               spatial_shape: Sequence[int]) -> tuple[int, ...]:
    """The ROI for an image: the whole (cropped) image in one pass when it is small enough and the
    network's output does not depend on the window it sees.

    Overlapping windows compute most voxels several times (4x at overlap 0.5 in 3D); one pass
    over the whole image computes each voxel once. ``whole_volume_voxels`` caps the memory.
    """
    if whole_volume_voxels and not window_dependent(network) and np.prod(spatial_shape) <= whole_volume_voxels:
        divisor = size_divisor(network, len(roi_size))
        return tuple(int(np.ceil(s / d) * d) for s, d in zip(spatial_shape, divisor))
    return tuple(roi_size)
