"""Evaluation speed: ``medseg evaluate`` per case vs the same metrics by plain MONAI on the whole grid.

The prediction is the real BraTS truth moved 3 voxels along x with its structures' rims eroded by
one voxel (so every metric is finite and non-trivial). Plain MONAI computes, per structure
(labels 1/2/4 and regions WT/TC/ET), Dice, ``compute_hausdorff_distance`` (95th percentile) and
``compute_surface_dice`` on the full 240x240x155 grid; medseg computes the same metrics inside the
bounding box of both maps (``medseg.evaluation.metrics.union_box``). Reading the files is timed in both.
Imports happen before the clock starts. The figures must agree to 1e-6.

    python benchmarks/evaluate_speed.py [--case BRATS_CASE_DIR] [--repeat 3] [--json out.json]
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import SHARED_BRATS, benchmark_parser, brats_size_phantom, table  # noqa: E402


def _prediction(truth_path: Path, out: Path) -> Path:
    import nibabel as nib
    from scipy import ndimage

    image = nib.load(truth_path)
    truth = np.asarray(image.dataobj).astype(np.uint8)
    moved = np.roll(truth, 3, axis=0)
    kept = ndimage.binary_erosion(moved > 0)
    out.mkdir(parents=True, exist_ok=True)
    path = out / truth_path.name
    nib.save(nib.Nifti1Image(np.where(kept, moved, 0).astype(np.uint8), image.affine, image.header), path)
    return path


def plain_monai(pred_path: Path, truth_path: Path, structures, tolerance_mm: float = 2.0) -> dict[str, float]:
    """The textbook way: every structure's masks on the whole grid through MONAI's metrics."""
    import nibabel as nib
    import torch
    from monai.metrics import compute_hausdorff_distance, compute_surface_dice

    truth_image = nib.load(truth_path)
    pred = np.rint(np.asarray(nib.load(pred_path).dataobj)).astype(np.int64)
    truth = np.rint(np.asarray(truth_image.dataobj)).astype(np.int64)
    spacing = [float(z) for z in truth_image.header.get_zooms()[:3]]
    row = {}
    for name, values in structures:
        p, t = np.isin(pred, values), np.isin(truth, values)
        row[name] = 2.0 * np.logical_and(p, t).sum() / (p.sum() + t.sum())
        y_pred = torch.from_numpy(p.astype(np.float32))[None, None]
        y = torch.from_numpy(t.astype(np.float32))[None, None]
        row[f"{name}/hd95_mm"] = float(compute_hausdorff_distance(y_pred, y, include_background=True,
                                                                  percentile=95, spacing=spacing).item())
        row[f"{name}/surface_dice"] = float(compute_surface_dice(y_pred, y, [tolerance_mm], include_background=True,
                                                                 spacing=spacing).item())
    return row


def main() -> None:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--case", type=Path, help="BraTS-layout case folder (default: the shared BraTS case)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each (the best is reported)")
    args = parser.parse_args()

    import monai.metrics  # noqa: F401 - imported before the clock starts

    from medseg.bundle.find import find_bundle
    from medseg.evaluation import evaluate_predictions, structures

    tmp = Path(tempfile.mkdtemp(prefix="medseg-bench-eval-"))
    case = args.case or (SHARED_BRATS if SHARED_BRATS.is_dir() else brats_size_phantom(tmp / "phantom_bratsize"))
    truth_path = case / f"{case.name}_seg.nii.gz"
    pred_path = _prediction(truth_path, tmp / "pred")
    schema = find_bundle("brain_tumor").schema
    timings: dict[str, list[float]] = {"plain": [], "medseg": []}
    for _ in range(args.repeat):
        start = time.perf_counter()
        plain = plain_monai(pred_path, truth_path, structures(schema))
        timings["plain"].append(time.perf_counter() - start)
        start = time.perf_counter()
        medseg = evaluate_predictions(tmp / "pred", case, schema).rows[0]
        timings["medseg"].append(time.perf_counter() - start)
    worst = max(abs(plain[key] - float(medseg[key])) for key in plain)
    best = {name: min(values) for name, values in timings.items()}
    print(f"case: {case} (prediction: truth moved 3 voxels, rims eroded 1 voxel); best of {args.repeat}")
    print(table(["pipeline", "seconds per case", "metrics"], [
        ["plain MONAI, whole grid", best["plain"], "Dice, HD95, surface Dice"],
        ["medseg evaluate", best["medseg"], "Dice, HD95, surface Dice, sensitivity, precision"],
    ]))
    print(f"speed-up {best['plain'] / best['medseg']:.1f}x; largest difference between the two: {worst:.2e}")
    if args.json:
        args.json.write_text(json.dumps({"plain_s": best["plain"], "medseg_s": best["medseg"],
                                         "speedup": best["plain"] / best["medseg"], "max_abs_difference": worst,
                                         "case": str(case), "timings": timings}, indent=2))
    shutil.rmtree(tmp, ignore_errors=True)
    if worst > 1e-6:
        raise SystemExit("medseg and plain MONAI disagree")


if __name__ == "__main__":
    main()
