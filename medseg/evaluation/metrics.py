"""Overlap and surface metrics of one structure, in millimetres, with explicit empty-mask rules.

HD95 and surface Dice come from MONAI's edge distances (``get_edge_surface_distance``, once for
both, as ``compute_hausdorff_distance`` and ``compute_surface_dice`` use them) with the voxel
spacing of the NIfTI, so distances are in mm on anisotropic grids too; they are computed inside the
bounding box of both masks (``union_box``), where they equal the whole grid's.

Empty masks are decided here, before MONAI is called (MONAI returns NaN/inf for them):

=========================  ======  ============  ========  ===========  =========
case                       Dice    surface Dice  HD95      sensitivity  precision
=========================  ======  ============  ========  ===========  =========
both empty                 1       1             0 mm      1            1
truth empty, pred not      0       0             NaN       NaN          0
pred empty, truth not      0       0             NaN       0            NaN
=========================  ======  ============  ========  ===========  =========

NaN means undefined; summaries skip NaNs and report how many values they used (``n``).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np

METRICS = ("dice", "surface_dice", "hd95_mm", "sensitivity", "precision")
# Per-case CSV columns that describe a case rather than score it (``truth``: the folder or manifest it was scored
# against; ``sequences``: the input subset it had).
CASE_COLUMNS = ("case", "truth", "sequences")
EMPTY_RULES = (
    "both empty: Dice 1, surface Dice 1, HD95 0, sensitivity 1, precision 1; "
    "one empty: Dice 0, surface Dice 0, HD95 undefined; sensitivity/precision 0 or undefined (0/0); "
    "summaries skip undefined values (n = values used)."
)


def dice(pred: np.ndarray, truth: np.ndarray) -> float:
    """Dice of two boolean masks; 1.0 when both are empty."""
    total = int(pred.sum()) + int(truth.sum())
    if total == 0:
        return 1.0
    return 2.0 * int(np.logical_and(pred, truth).sum()) / total


def _surface(pred: np.ndarray, truth: np.ndarray, spacing: Sequence[float], tolerance_mm: float) -> tuple[float, float]:
    """(HD95 mm, surface Dice at ``tolerance_mm``) of two non-empty masks.

    One pass of MONAI's ``get_edge_surface_distance`` (edges and both directed distances) feeds
    both figures, computed as ``compute_hausdorff_distance(percentile=95)`` and
    ``compute_surface_dice`` compute them (the larger directed 95th percentile; the share of edge
    voxels within the tolerance); each of those would find the edges and distances again.
    """
    import torch
    from monai.metrics.utils import get_edge_surface_distance

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, (to_truth, to_pred), _ = get_edge_surface_distance(
            torch.from_numpy(np.ascontiguousarray(pred)), torch.from_numpy(np.ascontiguousarray(truth)),
            spacing=[float(s) for s in spacing], symmetric=True)
    hd95 = max(float(torch.quantile(d.double(), 0.95)) for d in (to_truth, to_pred))
    within = int((to_truth <= tolerance_mm).sum()) + int((to_pred <= tolerance_mm).sum())
    return hd95, within / (len(to_truth) + len(to_pred))


def structure_metrics(
    pred: np.ndarray, truth: np.ndarray, spacing: Sequence[float], tolerance_mm: float = 2.0
) -> dict[str, float]:
    """All of ``METRICS`` for one structure (boolean masks on the same grid, spacing in mm per axis)."""
    pred, truth = np.asarray(pred, bool), np.asarray(truth, bool)
    n_pred, n_truth = int(pred.sum()), int(truth.sum())
    true_pos = int(np.logical_and(pred, truth).sum())
    if n_pred == 0 and n_truth == 0:
        return {"dice": 1.0, "surface_dice": 1.0, "hd95_mm": 0.0, "sensitivity": 1.0, "precision": 1.0}
    out = {
        "dice": 2.0 * true_pos / (n_pred + n_truth),
        "sensitivity": true_pos / n_truth if n_truth else math.nan,
        "precision": true_pos / n_pred if n_pred else math.nan,
    }
    if n_pred == 0 or n_truth == 0:
        out.update(surface_dice=0.0, hd95_mm=math.nan)
    else:
        box = union_box(pred, truth)  # distances do not change under translation; the volume around them is waste
        out["hd95_mm"], out["surface_dice"] = _surface(pred[box], truth[box], spacing, tolerance_mm)
    return {name: out[name] for name in METRICS}


def union_box(*arrays: np.ndarray, margin: int = 1) -> tuple[slice, ...]:
    """The bounding box of every array's non-zero voxels, grown by ``margin`` background voxels (clipped).

    Metrics computed inside it equal those on the whole grid: counts ignore background, and a
    margin of one voxel keeps every surface voxel's neighbourhood, so edges and distances are the same.
    """
    union = np.logical_or.reduce([np.asarray(a) != 0 for a in arrays])
    if not union.any():
        return tuple(slice(0, 0) for _ in union.shape)
    box = []
    for axis in range(union.ndim):
        hits = np.flatnonzero(union.any(axis=tuple(i for i in range(union.ndim) if i != axis)))
        box.append(slice(max(int(hits[0]) - margin, 0), min(int(hits[-1]) + 1 + margin, union.shape[axis])))
    return tuple(box)


def summarise(values: Sequence[float]) -> dict[str, float]:
    """Mean, std, median over the defined (non-NaN) values, and how many there were."""
    array = np.asarray([v for v in values if not math.isnan(v)], dtype=np.float64)
    if not len(array):
        return {"mean": math.nan, "std": math.nan, "median": math.nan, "n": 0}
    return {"mean": float(array.mean()), "std": float(array.std()), "median": float(np.median(array)),
            "n": int(len(array))}
