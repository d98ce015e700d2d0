"""Inference speed and memory: medseg's Predictor vs the plain MONAI pipeline, same network and weights.

Both run end to end (read 4 modalities -> reorient -> normalise -> network -> threshold -> invert ->
write a NIfTI label) on one BraTS-size case, each in a fresh process so peak RSS is its own. Plain
MONAI is the textbook chain: ``sliding_window_inference`` with ROI 128^3, overlap 0.5, Gaussian.
medseg crops to the non-zero head box (invertibly) and runs the cropped volume in one pass when it
fits ``whole_volume_voxels``. Prints a table; ``--json`` writes the figures.

    python benchmarks/infer_speed.py [--case BRATS_CASE_DIR] [--run TRAINED_RUN_DIR] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    MODALITIES,
    SHARED_BRATS,
    benchmark_parser,
    brats_size_phantom,
    peak_rss_mb,
    run_worker,
    table,
)


def _network(bundle_dir: Path):
    from monai.bundle import ConfigParser

    parser = ConfigParser()
    parser.read_config(str(bundle_dir / "configs" / "inference.json"))
    parser.read_meta(str(bundle_dir / "configs" / "metadata.json"))
    parser["bundle_root"] = str(bundle_dir)
    return parser.get_parsed_content("network_def")


def worker_plain(case: Path, bundle_dir: Path, out: Path) -> dict:
    import torch
    from monai import transforms as mt
    from monai.data import MetaTensor
    from monai.inferers import sliding_window_inference

    start = time.perf_counter()
    net = _network(bundle_dir)
    net.load_state_dict(torch.load(bundle_dir / "models" / "model.pt", weights_only=True))
    net.eval()
    pre = mt.Compose([
        mt.LoadImaged("image", ensure_channel_first=True, image_only=True),
        mt.Orientationd("image", axcodes="RAS", labels=(("L", "R"), ("P", "A"), ("I", "S"))),
        mt.NormalizeIntensityd("image", nonzero=True, channel_wise=True),
    ])
    data = pre({"image": [str(case / f"{case.name}_{m}.nii.gz") for m in MODALITIES]})
    net_start = time.perf_counter()
    with torch.no_grad():
        logits = sliding_window_inference(data["image"][None], (128, 128, 128), 1, net, overlap=0.5, mode="gaussian")
    network_s = time.perf_counter() - net_start
    masks = (torch.sigmoid(logits[0]) > 0.5).numpy()
    label = np.zeros(masks.shape[1:], np.uint8)
    for mask, value in zip(masks, (2, 1, 4)):  # WT, TC, ET painted as BraTS labels
        label[mask] = value
    data["pred"] = MetaTensor(torch.from_numpy(label[None]), meta=dict(data["image"].meta))
    data = mt.Invertd("pred", transform=pre, orig_keys="image", nearest_interp=True)(data)
    mt.SaveImage(output_dir=str(out), output_postfix="seg", separate_folder=False, output_dtype=np.uint8,
                 resample=False)(data["pred"])
    return {"wall_s": time.perf_counter() - start, "network_s": network_s, "peak_rss_mb": peak_rss_mb()}


def worker_medseg(case: Path, bundle_dir: Path, out: Path) -> dict:
    import monai.inferers  # noqa: F401 - imported before the clock starts, as in the plain worker
    import monai.transforms  # noqa: F401

    from medseg.data.inputs import resolve_case
    from medseg.engine.infer import Predictor

    start = time.perf_counter()
    predictor = Predictor.from_bundle(bundle_dir, device="cpu")
    network_s = 0.0
    original = predictor.logits

    def timed(image):
        nonlocal network_s
        tick = time.perf_counter()
        result = original(image)
        network_s += time.perf_counter() - tick
        return result

    predictor.logits = timed
    predictor.predict_to_files(resolve_case(case, MODALITIES), out)
    return {"wall_s": time.perf_counter() - start, "network_s": network_s, "peak_rss_mb": peak_rss_mb()}


def _regions(label: np.ndarray) -> dict[str, np.ndarray]:
    return {"WT": np.isin(label, (1, 2, 4)), "TC": np.isin(label, (1, 4)), "ET": label == 4}


def main() -> None:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--case", type=Path, help="BraTS-layout case folder (default: shared BraTS case or a phantom)")
    parser.add_argument("--run", type=Path, help="trained run directory (default: bundle, seeded random weights)")
    parser.add_argument("--bundle-dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        work = worker_plain if args.worker == "plain" else worker_medseg
        print(json.dumps(work(args.case, args.bundle_dir, args.out)))
        return

    import nibabel as nib
    import torch

    from medseg.metrics import dice

    tmp = Path(tempfile.mkdtemp(prefix="medseg-bench-"))
    case = args.case or (SHARED_BRATS if SHARED_BRATS.is_dir() else brats_size_phantom(tmp / "phantom_bratsize"))
    if args.run:
        bundle_dir = args.run
    else:
        from medseg.bundles import find_bundle

        bundle_dir = find_bundle("brain_tumor").copy_to(tmp / "bundle").root  # sealed: medseg wrote the copy
        torch.manual_seed(0)
        (bundle_dir / "models").mkdir()
        torch.save(_network(bundle_dir).state_dict(), bundle_dir / "models" / "model.pt")
    results = {}
    for name in ("plain", "medseg"):
        out = tmp / f"out_{name}"
        results[name] = run_worker(Path(__file__), ["--worker", name, "--case", str(case), "--bundle-dir",
                                                    str(bundle_dir), "--out", str(out)])
        results[name]["label"] = np.asarray(nib.load(next(out.glob("*seg.nii.gz"))).dataobj)
    plain, medseg = results["plain"], results["medseg"]
    agreement = {k: dice(_regions(plain["label"])[k], _regions(medseg["label"])[k]) for k in ("WT", "TC", "ET")}
    truth_path = case / f"{case.name}_seg.nii.gz"
    vs_truth = {}
    if truth_path.is_file():
        truth = _regions(np.asarray(nib.load(truth_path).dataobj))
        for name in ("plain", "medseg"):
            vs_truth[name] = {k: dice(_regions(results[name]["label"])[k], truth[k]) for k in truth}
    rows = []
    for name in ("plain", "medseg"):
        r = results[name]
        truth_cell = "/".join(f"{vs_truth[name][k]:.3f}" for k in ("WT", "TC", "ET")) if vs_truth else "n/a"
        rows.append([name, r["wall_s"], r["network_s"], r["peak_rss_mb"], truth_cell])
    print(f"case: {case} ({'trained run ' + str(args.run) if args.run else 'seeded random weights'})")
    print(table(["pipeline", "end-to-end s", "network s", "peak RSS MB", "Dice vs truth WT/TC/ET"], rows))
    ratio = medseg["wall_s"] / plain["wall_s"]
    print(f"ratio medseg/plain: end-to-end {ratio:.2f}, network {medseg['network_s'] / plain['network_s']:.2f}")
    print("Dice agreement medseg vs plain: " + ", ".join(f"{k} {v:.4f}" for k, v in agreement.items()))
    figures = {
        "medseg_s": medseg["wall_s"], "plain_s": plain["wall_s"], "ratio": ratio,
        "network_medseg_s": medseg["network_s"], "network_plain_s": plain["network_s"],
        "peak_rss_mb": medseg["peak_rss_mb"], "plain_peak_rss_mb": plain["peak_rss_mb"],
        "dice_agreement": float(np.mean(list(agreement.values()))), "dice_agreement_per_region": agreement,
        "dice_vs_truth": vs_truth, "case": str(case),
    }
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
