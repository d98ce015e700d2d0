"""Inference speed and memory: medseg's Predictor vs plain MONAI on the same trained run, same preprocessing.

Every column runs end to end on one BraTS-size case in a fresh process (so peak RSS is its own): read the
four sequences, apply the preprocessing the run declares (reorient, crop to the head box, resample to the
run's spacing, z-score), run the network, take the sigmoid, invert onto the input grid (probabilities
linearly, then thresholded at 0.5) and write. Plain MONAI builds that chain from MONAI transforms alone:

* ``plain``: the textbook ``sliding_window_inference`` with the run's ROI and overlap (Gaussian);
* ``plain, medseg's window``: the same chain with the window medseg picks (one pass over the whole
  cropped volume when it fits ``whole_volume_voxels``), which shows everything else is the same work;
* ``medseg``: its Predictor with every writer the run lists (label NIfTI, ``.seg.nrrd``, colour table,
  measurements with sanity figures).

The Dice agreement of each plain label map with medseg's is printed: a ratio only compares the same work
when the masks agree (>= 0.99 per region). With instance normalisation (the planned networks) a network's
output depends on the window it sees, so the textbook window can give a different mask.

Without ``--run`` the script first trains a run in its own process: the planned brain_tumor recipe for
``--minutes`` on the other shared BraTS case (on phantoms when ``../shared/data`` is absent).

    python benchmarks/infer_speed.py [--case BRATS_CASE_DIR] [--run TRAINED_RUN_DIR | --minutes 4] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
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

REGIONS = {"WT": (1, 2, 4), "TC": (1, 4), "ET": (4,)}


def _run_config(run: Path):
    """The run's inference config and metadata as MONAI reads them (values only; no medseg code)."""
    from monai.bundle import ConfigParser

    parser = ConfigParser()
    parser.read_config(str(run / "configs" / "inference.json"))
    parser.read_meta(str(run / "configs" / "metadata.json"))
    parser["bundle_root"] = str(run)
    return parser


def plain_chain(parser, defaults: dict):
    """The run's declared preprocessing (``medseg.transforms.volume.inference_transforms`` arguments) as a chain
    of MONAI transforms: load, reorient, crop to the non-zero box, resample, normalise."""
    from monai import transforms as mt

    declared = parser.get("preprocessing")
    if not str(declared.get("_target_", "")).endswith("transforms.volume.inference_transforms"):
        raise SystemExit(f"the plain column knows medseg's volume preprocessing only, not {declared.get('_target_')}")
    args = {**defaults, **{k: parser.get_parsed_content(f"preprocessing#{k}") for k in declared if k != "_target_"}}
    chain = [mt.LoadImaged("image", reader="NibabelReader", ensure_channel_first=True, image_only=True),
             mt.Orientationd("image", axcodes=args["axcodes"], labels=(("L", "R"), ("P", "A"), ("I", "S"))),
             mt.EnsureTyped("image", dtype="float32", track_meta=True)]
    if args["crop_margin"] >= 0:
        chain.append(mt.CropForegroundd("image", source_key="image", margin=args["crop_margin"], allow_smaller=True))
    if args["spacing"] is not None:
        chain.append(mt.Spacingd("image", pixdim=[float(s) for s in args["spacing"]], mode="bilinear"))
    intensity = args["intensity"]
    if intensity and intensity.get("kind", "mr") != "mr":
        low, high = (float(v) for v in intensity["clip"])
        chain += [mt.ScaleIntensityRanged("image", a_min=low, a_max=high, b_min=low, b_max=high, clip=True),
                  mt.NormalizeIntensityd("image", subtrahend=float(intensity["mean"]), divisor=float(intensity["std"]))]
    else:
        chain.append(mt.NormalizeIntensityd("image", nonzero=True, channel_wise=True))
    return mt.Compose(chain), args


def worker_plain(case: Path, run: Path, out: Path, window: str = "run") -> dict:
    """``window``: ``run`` slides the run's ROI at its overlap (textbook); ``medseg`` uses the window medseg's
    Predictor picks (one pass over the whole cropped volume when it fits), to show the rest is the same work."""
    import inspect

    import torch
    from monai import transforms as mt
    from monai.data import MetaTensor
    from monai.inferers import sliding_window_inference

    from medseg.transforms.volume import inference_transforms  # only to read its default arguments

    defaults = {k: p.default for k, p in inspect.signature(inference_transforms).parameters.items()}
    if window == "medseg":
        from medseg.inference.predictor import Predictor  # only to pick the window medseg would
    start = time.perf_counter()
    parser = _run_config(run)
    net = parser.get_parsed_content("network_def")
    net.load_state_dict(torch.load(run / "models" / "model.pt", weights_only=True))
    net.eval()
    pre, _ = plain_chain(parser, defaults)
    data = pre({"image": [str(case / f"{case.name}_{m}.nii.gz") for m in MODALITIES]})
    roi = parser.get_parsed_content("roi_size")
    overlap = parser.get_parsed_content("sw_overlap")
    if window == "medseg":
        whole = parser.get_parsed_content("whole_volume_voxels")
        roi = Predictor(net, parser.get_parsed_content("schema"), pre, roi, device="cpu",
                        whole_volume_voxels=whole).window_for(data["image"].shape[1:])
    net_start = time.perf_counter()
    with torch.inference_mode():
        logits = sliding_window_inference(data["image"].as_tensor()[None], roi, 1, net, overlap=overlap,
                                          mode="gaussian")
    network_s = time.perf_counter() - net_start
    data["pred"] = MetaTensor(torch.sigmoid(logits[0]), meta=dict(data["image"].meta))
    data = mt.Invertd("pred", transform=pre, orig_keys="image", nearest_interp=False)(data)
    masks = data["pred"].numpy() > 0.5
    label = np.zeros(masks.shape[1:], np.uint8)
    for mask, channel in zip(masks, parser.get_parsed_content("_meta_#medseg#channels")):
        label[mask] = channel["paint"]
    data["pred"] = MetaTensor(torch.from_numpy(label[None]), meta=data["pred"].meta)
    mt.SaveImage(output_dir=str(out), output_postfix="seg", separate_folder=False, output_dtype=np.uint8,
                 resample=False, print_log=False)(data["pred"])
    return {"wall_s": time.perf_counter() - start, "network_s": network_s, "peak_rss_mb": peak_rss_mb()}


def worker_medseg(case: Path, run: Path, out: Path) -> dict:
    import monai.inferers  # noqa: F401 - imported before the clock starts, as in the plain worker
    import monai.transforms  # noqa: F401

    from medseg.data.inputs import resolve_case
    from medseg.inference.predictor import Predictor

    start = time.perf_counter()
    predictor = Predictor.from_bundle(run, device="cpu")
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


def train_run(case: Path, tmp: Path, minutes: float) -> Path:
    """The planned brain_tumor recipe for ``minutes`` on a case other than ``case`` (phantoms without real data)."""
    import medseg
    from medseg.bundle.find import find_bundle
    from medseg.data.importers import Imported, import_brats, write_imported
    from medseg.errors import InputError

    source = case.parent
    others = []
    if source != tmp:
        try:
            imported = import_brats(source, find_bundle("brain_tumor"))
            others = [c for c in imported.cases if c.case_id != case.name]
        except InputError:  # no other BraTS case beside it
            pass
    if others:
        manifest = write_imported(Imported(others, [], imported.label_names, variant=imported.variant),
                                  find_bundle("brain_tumor"), tmp / "train.json", source, folds=1)
    else:
        from medseg.data.synthetic import write_demo_dataset

        manifest = write_demo_dataset(tmp / "phantoms", n_train=4, n_val=1, n_test=0, seed=3, spacing=1.0)
    run = tmp / "run"
    medseg.train("brain_tumor", data=manifest, output_dir=run, device="cpu", time_limit=minutes, progress=False)
    return run


def _regions(label: np.ndarray) -> dict[str, np.ndarray]:
    return {name: np.isin(label, values) for name, values in REGIONS.items()}


def main() -> None:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--case", type=Path, help="BraTS-layout case folder (default: shared BraTS case or a phantom)")
    parser.add_argument("--run", type=Path, help="trained run directory (default: train one for --minutes)")
    parser.add_argument("--minutes", type=float, default=4.0, help="training time of the run made without --run")
    parser.add_argument("--window", choices=["run", "medseg"], default="run", help=argparse.SUPPRESS)
    parser.add_argument("--train-into", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.train_into:
        train_run(args.case, args.train_into, args.minutes)
        return
    if args.worker == "plain":
        print(json.dumps(worker_plain(args.case, args.run, args.out, args.window)))
        return
    if args.worker:
        print(json.dumps(worker_medseg(args.case, args.run, args.out)))
        return

    import nibabel as nib

    from medseg.evaluation.metrics import dice

    tmp = Path(tempfile.mkdtemp(prefix="medseg-bench-"))
    case = args.case or (SHARED_BRATS if SHARED_BRATS.is_dir() else brats_size_phantom(tmp / "phantom_bratsize"))
    run = args.run
    if run is None:  # in its own process: the workers forked from this one would inherit its peak memory
        subprocess.run([sys.executable, __file__, "--train-into", str(tmp), "--case", str(case),
                        "--minutes", str(args.minutes)], check=True)
        run = tmp / "run"
    columns = {"plain": ["--worker", "plain"], "plain, medseg's window": ["--worker", "plain", "--window", "medseg"],
               "medseg": ["--worker", "medseg"]}
    results = {}
    for index, (name, worker) in enumerate(columns.items()):
        out = tmp / f"out_{index}"
        results[name] = run_worker(Path(__file__), [*worker, "--case", str(case), "--run", str(run), "--out", str(out)])
        results[name]["label"] = np.asarray(nib.load(next(out.glob("*seg.nii.gz"))).dataobj)
    plain, medseg = results["plain"], results["medseg"]
    agreement = {name: {k: dice(_regions(results[name]["label"])[k], _regions(medseg["label"])[k]) for k in REGIONS}
                 for name in ("plain", "plain, medseg's window")}
    truth_path = case / f"{case.name}_seg.nii.gz"
    truth = _regions(np.asarray(nib.load(truth_path).dataobj)) if truth_path.is_file() else None
    vs_truth = {name: {k: dice(_regions(r["label"])[k], truth[k]) for k in REGIONS} if truth else {}
                for name, r in results.items()}
    rows = [[name, r["wall_s"], r["network_s"], r["peak_rss_mb"],
             "/".join(f"{v:.3f}" for v in vs_truth[name].values()) or "n/a"] for name, r in results.items()]
    print(f"case: {case}; run: {args.run or f'trained here for {args.minutes:g} min'}")
    print(table(["pipeline", "end-to-end s", "network s", "peak RSS MB", "Dice vs truth WT/TC/ET"], rows))
    ratio = medseg["wall_s"] / plain["wall_s"]
    print(f"ratio medseg/plain: end-to-end {ratio:.2f}, network {medseg['network_s'] / plain['network_s']:.2f}")
    same = all(v >= 0.99 for v in agreement["plain"].values())
    for name, scores in agreement.items():
        print(f"Dice agreement medseg vs {name}: " + ", ".join(f"{k} {v:.4f}" for k, v in scores.items()))
    if not same:
        print("below 0.99: the window changes this model's masks; the ratio compares different outputs")
    figures = {
        "medseg_s": medseg["wall_s"], "plain_s": plain["wall_s"], "ratio": ratio,
        "network_medseg_s": medseg["network_s"], "network_plain_s": plain["network_s"],
        "plain_medseg_window_s": results["plain, medseg's window"]["wall_s"],
        "peak_rss_mb": medseg["peak_rss_mb"], "plain_peak_rss_mb": plain["peak_rss_mb"],
        "dice_agreement": agreement, "agreement_at_least_0.99": same,
        "dice_vs_truth": vs_truth, "case": str(case),
        "run": str(args.run) if args.run else None,
    }
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
