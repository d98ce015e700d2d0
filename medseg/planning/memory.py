"""How much memory and arithmetic one training iteration of a planned ``DynUNet`` needs.

Formula (documented in the planner's table and checked by ``measure_iteration``):

    activations = batch * sum_l V_l * f_l * (ENCODER_COPIES + DECODER_COPIES) * bytes_per_value
    memory      = activations + parameters * 16 bytes (fp32 weights, gradients, and the optimiser's
                  state: SGD momentum and an AMP copy, or AdamW's two moments)
                  + batch * V_0 * (in + out channels) * 4 bytes (the batch and its target)

where ``V_l`` is the number of voxels of a feature map at level ``l`` and ``f_l`` its channels. Per
level the autograd graph keeps about 4 feature maps in the encoder (two convolution outputs, two
normalised outputs; the in-place LeakyReLU adds none) and about 7 in the decoder (transposed
convolution output, the concatenation of two, two convolution outputs, two normalised outputs). The
copy counts were fitted to ``measure_iteration`` on the CPU (fp32); AMP stores convolution outputs
in half precision but instance normalisation in single, hence ``AMP_BYTES`` = 2.5 rather than 2.
A GPU also needs room for the CUDA context, cuDNN workspaces and the caching allocator's slack:
``GPU_RESERVED_GB`` off the card's memory, and the rest used at ``GPU_USABLE``.

FLOPs: 2 x multiply-adds of every convolution, x 3 for forward plus backward.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from medseg.planning.topology import Topology

ENCODER_COPIES = 4.0
DECODER_COPIES = 7.0
FP32_BYTES = 4.0
AMP_BYTES = 2.5
GPU_RESERVED_GB = 1.5
GPU_USABLE = 0.9


def activation_values(topology: Topology, patch_size: Sequence[int], filters: Sequence[int]) -> float:
    """Feature-map values the autograd graph keeps for one sample (encoder + decoder, every level)."""
    voxels = topology.voxels_per_level(patch_size)
    total = 0.0
    for level, (v, f) in enumerate(zip(voxels, filters)):
        copies = ENCODER_COPIES + (DECODER_COPIES if level < len(voxels) - 1 else 0.0)
        total += v * f * copies
    return total


def parameter_count(topology: Topology, filters: Sequence[int], in_channels: int, out_channels: int,
                    deep_supr_num: int = 0) -> int:
    """Weights of a plain-convolution ``DynUNet`` (two convolutions per block; biases and norms ignored)."""
    total, previous = 0, in_channels
    for level, f in enumerate(filters):
        k = int(np.prod(topology.kernel_size[level]))
        total += previous * f * k + f * f * k
        if level:  # decoder: transposed convolution (kernel = stride) into 2f -> f block
            total += filters[level] * filters[level - 1] * int(np.prod(topology.strides[level]))
            k_up = int(np.prod(topology.kernel_size[level - 1]))
            total += 2 * filters[level - 1] * filters[level - 1] * k_up + filters[level - 1] ** 2 * k_up
        previous = f
    total += filters[0] * out_channels * (1 + deep_supr_num)
    return total


def iteration_flops(topology: Topology, patch_size: Sequence[int], filters: Sequence[int], in_channels: int,
                    batch_size: int) -> float:
    """Floating-point operations of one forward and backward pass over a batch."""
    voxels = topology.voxels_per_level(patch_size)
    macs, previous = 0.0, in_channels
    for level, (v, f) in enumerate(zip(voxels, filters)):
        k = float(np.prod(topology.kernel_size[level]))
        macs += v * (previous * f * k + f * f * k)
        if level:
            up_voxels = voxels[level - 1]
            k_up = float(np.prod(topology.kernel_size[level - 1]))
            g = filters[level - 1]
            macs += up_voxels * (f * g + 2 * g * g * k_up + g * g * k_up)
        previous = f
    return 2.0 * 3.0 * macs * batch_size


def estimate_memory_gb(topology: Topology, patch_size: Sequence[int], filters: Sequence[int], batch_size: int,
                       in_channels: int, out_channels: int, amp: bool, deep_supr_num: int = 0) -> float:
    """Memory of one training iteration in GB (see the module docstring for the formula)."""
    bytes_per_value = AMP_BYTES if amp else FP32_BYTES
    activations = batch_size * activation_values(topology, patch_size, filters) * bytes_per_value
    params = parameter_count(topology, filters, in_channels, out_channels, deep_supr_num) * 16.0
    batch = batch_size * float(np.prod(patch_size)) * (in_channels + out_channels) * FP32_BYTES
    return (activations + params + batch) / 1e9


def measure_iteration(network, batch: tuple, loss_fn) -> dict[str, float]:
    """Run one forward/backward and measure what autograd kept (GB) and how long it took.

    Saved tensors are counted once per storage through ``torch.autograd.graph.saved_tensors_hooks``,
    which sees exactly what the graph holds between forward and backward on any device, the ``meta``
    device included (shapes only: the count for a GPU-sized configuration without allocating it);
    parameters, their gradients and the optimiser's state are added as the formula does.
    """
    import time

    import torch

    seen: dict[int, int] = {}

    def pack(tensor):
        storage = tensor.untyped_storage()
        seen.setdefault(storage._cdata, storage.nbytes())
        return tensor

    image, target = batch
    network.train()
    start = time.perf_counter()
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = loss_fn(network(image), target)
    forward_s = time.perf_counter() - start
    param_ids = {p.untyped_storage()._cdata for p in network.parameters()}
    saved = sum(n for key, n in seen.items() if key not in param_ids)
    loss.backward()
    seconds = time.perf_counter() - start
    params = sum(p.numel() for p in network.parameters())
    batch_bytes = (image.numel() + target.numel()) * image.element_size()
    return {"saved_gb": saved / 1e9, "total_gb": (saved + params * 16.0 + batch_bytes) / 1e9,
            "parameters": float(params), "forward_s": forward_s, "seconds": seconds}
