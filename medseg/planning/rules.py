"""The planning rules: target spacing, patch size, topology, batch size and schedule.

nnU-Net's method (Isensee et al., Nature Methods 2021), written for MONAI's ``DynUNet``:

* **Spacing**: the median spacing per axis; when one axis is more than 3x coarser than the finest
  (anisotropic data) and few voxels span it, that axis takes the 10th percentile instead, so thin-slice
  cases are not thrown away by resampling to the typical thick slice.
* **Patch**: start from a patch of ``start_voxels`` whose aspect follows the median foreground shape
  in millimetres, never larger than that shape; shrink the axis with the largest patch/shape ratio by one
  pooling step until one iteration at batch 2 fits the memory budget (and, on a CPU, the compute
  budget per iteration).
* **Coarser spacing when the patch sees too little**: if the fitted patch covers less than
  ``min_coverage`` of the median foreground volume (a CPU, a small GPU), the spacing is coarsened
  (nnU-Net's ``3d_lowres`` rule) until it covers that much or it is ``max_coarsening`` x the median.
* **Topology**: kernels and strides per axis from the spacing (``topology.plan_topology``); filters
  double per level from a base to a cap; deep supervision on every decoder level but the coarsest.
* **Batch**: as many as the remaining memory allows (at least 2), but no more than 5 % of the
  dataset's voxels per batch.
* **Schedule**: ``iterations_per_epoch`` x ``epochs`` iterations, or as many as a time limit allows;
  poly decay (exponent 0.9); SGD with Nesterov momentum 0.99 at learning rate 0.01 when that is
  nnU-Net-long, AdamW on a short (CPU) schedule (``medseg.planning.plan.optimizer_for``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from medseg.planning.fingerprint import Fingerprint
from medseg.planning.memory import GPU_RESERVED_GB, GPU_USABLE, estimate_memory_gb, iteration_flops
from medseg.planning.topology import Topology, filters_per_level, plan_topology, round_to_divisor

ANISOTROPY = 3.0


@dataclass(frozen=True)
class Budget:
    """What one device offers a training iteration, and the profile of network that suits it."""

    device: str  # "cuda" or "cpu"
    memory_gb: float  # memory one iteration may use
    amp: bool
    flops_per_second: float  # sustained training throughput, for time estimates
    max_seconds_per_iteration: float | None  # compute budget (CPU); None: memory alone limits
    base_filters: int
    max_filters: int
    start_voxels: int  # the initial patch volume, before shrinking to fit
    iterations_per_epoch: int
    epochs: int
    val_interval: int
    min_coverage: float = 0.25
    max_coarsening: float = 3.0


def gpu_budget(memory_gb: float, dims: int = 3) -> Budget:
    """A CUDA GPU with ``memory_gb`` of memory, AMP on (nnU-Net's profile: 32-320 filters, 1000 x 250)."""
    usable = max(1.0, (memory_gb - GPU_RESERVED_GB) * GPU_USABLE)
    return Budget("cuda", usable, True, 25e12, None, 32, 320 if dims == 3 else 512,
                  256**3 if dims == 3 else 2048**2, 250, 1000, 10)


# Sustained fp32 training throughput of a DynUNet on the 2-core development machine (see RESULTS.md);
# used only to turn a time limit into a number of epochs before the first epoch has been timed.
CPU_FLOPS = 40e9


def cpu_budget(memory_gb: float = 8.0, seconds_per_iteration: float = 3.0, dims: int = 3,
               flops_per_second: float = CPU_FLOPS) -> Budget:
    """A CPU: fp32, 16-256 filters, at most ``seconds_per_iteration`` per batch (the CPU budget).

    Few iterations fit in a CPU's time, so the patch should see more of each case: the spacing is
    coarsened until it covers half the median foreground (nnU-Net's low-resolution rule at 0.5).
    """
    return Budget("cpu", memory_gb, False, flops_per_second, seconds_per_iteration, 16, 256 if dims == 3 else 512,
                  160**3 if dims == 3 else 512**2, 50, 100, 5, min_coverage=0.5)


def target_spacing(fingerprint: Fingerprint) -> np.ndarray:
    """Median spacing; the coarse axis of anisotropic data at its 10th percentile."""
    spacings = np.asarray(fingerprint.spacings, dtype=float)
    target = np.median(spacings, axis=0)
    coarse = int(np.argmax(target))
    others = [a for a in range(len(target)) if a != coarse]
    median_shape = fingerprint.median_shape_at(target)
    if others and target[coarse] > ANISOTROPY * min(target[a] for a in others) and \
            median_shape[coarse] * ANISOTROPY < min(median_shape[a] for a in others):
        target[coarse] = max(np.percentile(spacings[:, coarse], 10), max(target[a] for a in others) + 1e-5)
    return target


@dataclass(frozen=True)
class Fit:
    """One candidate configuration and what it costs."""

    spacing: tuple[float, ...]
    patch_size: tuple[int, ...]
    topology: Topology
    filters: tuple[int, ...]
    memory_gb: float  # at batch 2
    flops: float  # at batch 2
    coverage: float  # patch voxels / median foreground voxels at this spacing


def _fits(budget: Budget, memory_gb: float, flops: float) -> bool:
    if memory_gb > budget.memory_gb:
        return False
    return budget.max_seconds_per_iteration is None or flops / budget.flops_per_second <= \
        budget.max_seconds_per_iteration


def fit_patch(spacing: np.ndarray, median_shape: np.ndarray, budget: Budget, in_channels: int,
              out_channels: int) -> Fit:
    """The largest patch (aspect of the median shape) whose batch-2 iteration fits the budget."""
    dims = len(spacing)
    median_shape = np.maximum(median_shape, 1.0)
    aspect = median_shape / np.prod(median_shape) ** (1 / dims)
    patch = np.minimum(np.round(aspect * budget.start_voxels ** (1 / dims)), median_shape)

    def evaluate(patch_size) -> Fit:
        topology = plan_topology(spacing, patch_size)
        size = round_to_divisor(patch_size, topology.divisor)
        topology = plan_topology(spacing, size)
        size = round_to_divisor(size, topology.divisor)
        filters = filters_per_level(topology.levels, budget.base_filters, budget.max_filters)
        memory = estimate_memory_gb(topology, size, filters, 2, in_channels, out_channels, budget.amp,
                                    max(topology.levels - 2, 0))
        flops = iteration_flops(topology, size, filters, in_channels, 2)
        return Fit(tuple(float(s) for s in spacing), size, topology, filters, memory, flops,
                   float(np.prod(size) / np.prod(median_shape)))

    fit = evaluate(patch)
    while not _fits(budget, fit.memory_gb, fit.flops):
        ratios = np.asarray(fit.patch_size) / median_shape
        candidates = [a for a in np.argsort(-ratios) if fit.patch_size[a] > fit.topology.divisor[a]]
        if not candidates:
            break  # the smallest patch this topology allows; nothing smaller is useful
        axis = candidates[0]
        smaller = list(fit.patch_size)
        smaller[axis] -= fit.topology.divisor[axis]
        fit = evaluate(smaller)
    return fit


def fit_spacing(fingerprint: Fingerprint, budget: Budget, in_channels: int, out_channels: int) -> Fit:
    """Fit the patch at the target spacing; coarsen (3 % steps) while the patch sees too little."""
    base = target_spacing(fingerprint)
    spacing = base.copy()
    fit = fit_patch(spacing, fingerprint.median_shape_at(spacing), budget, in_channels, out_channels)
    while fit.coverage < budget.min_coverage and np.max(spacing / base) < budget.max_coarsening:
        # every axis finer than the coarsest grows, so anisotropic data first become isotropic
        spacing = np.where(spacing < spacing.max() * 0.999, spacing * 1.03, spacing)
        if np.allclose(spacing, spacing.max()):
            spacing = spacing * 1.03
        fit = fit_patch(spacing, fingerprint.median_shape_at(spacing), budget, in_channels, out_channels)
    return fit


def batch_size_for(fit: Fit, budget: Budget, fingerprint: Fingerprint, max_batch: int = 64) -> int:
    """Batch 2, grown with the memory left over, capped at 5 % of the dataset's voxels."""
    per_sample = fit.memory_gb / 2
    batch = int(budget.memory_gb // per_sample) if per_sample > 0 else 2
    if budget.max_seconds_per_iteration is not None:
        per_sample_s = fit.flops / 2 / budget.flops_per_second
        batch = min(batch, int(budget.max_seconds_per_iteration // per_sample_s))
    dataset_voxels = float(np.sum(np.prod(np.asarray(fingerprint.cropped_shapes, dtype=float), axis=1)
                                  * np.prod(np.asarray(fingerprint.spacings, dtype=float), axis=1)
                                  / np.prod(fit.spacing)))
    cap = int(round(dataset_voxels * 0.05 / np.prod(fit.patch_size)))
    return int(max(2, min(batch, cap, max_batch)))
