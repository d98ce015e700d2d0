"""A new task, end to end with the defaults, against a plain MONAI 2D UNet trained on images resized to 256².

For each real dataset (``../shared/data/isbi2012_em``: membranes; ``../shared/data/montgomery_shenzhen``:
lung fields) a seeded split holds out test cases. The medseg column runs the CLI as a user would:
``bundle new`` → ``train --time-limit`` → ``infer`` → ``evaluate``. The plain column trains a MONAI
UNet (16…256, 2 residual units; the same network) on the whole images resized to 256², Dice + BCE,
Adam 1e-3 with polynomial decay over the same wall-clock budget, predicts at 256² and resizes the
mask back. Both columns run at the same time, one thread each, so they share whatever load the
machine carries; both are scored by the same ``medseg evaluate`` on the test masks at native size.

    python benchmarks/new_task_accuracy.py --minutes 8 --json results.json
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, benchmark_parser, table  # noqa: E402

SHARED = Path(os.environ.get("MEDSEG_SHARED_DATA", REPO.parent / "shared" / "data"))
DATASETS = {  # name: (folder, --labels as a user gives them, cases used (None: all))
    "isbi2012_em": ("isbi2012_em", ["membrane=0"], None),
    "montgomery_shenzhen": ("montgomery_shenzhen", ["lung"], 100),
}
MEDSEG = [sys.executable, "-m", "medseg"]


def split(source: Path, work: Path, cases: int | None, test_fraction: float = 0.2, seed: int = 0) -> Path:
    """train/ and test/ folders of symlinks (images/ + masks/), a seeded split by file name."""
    names = sorted(p.name for p in (source / "images").iterdir() if not p.name.startswith("."))
    random.Random(seed).shuffle(names)
    names = names[:cases] if cases else names
    n_test = round(len(names) * test_fraction)
    for part, chosen in (("test", names[:n_test]), ("train", names[n_test:])):
        for kind in ("images", "masks"):
            folder = work / part / kind
            folder.mkdir(parents=True, exist_ok=True)
            for name in chosen:
                (folder / name).symlink_to(source / kind / name)
    return work


def _run(command: list[str], log: Path) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    return subprocess.Popen(command, stdout=log.open("w"), stderr=subprocess.STDOUT, env=env, cwd=log.parent)


def medseg_column(data: Path, work: Path, labels: list[str], minutes: float) -> subprocess.Popen:
    """The whole user path in one shell chain (run in the background beside the plain column)."""
    work.mkdir(parents=True, exist_ok=True)
    steps = [
        [*MEDSEG, "bundle", "new", "task", "--from-folder", str(data / "train/images"), str(data / "train/masks"),
         *[a for label in labels for a in ("--labels", label)], "--output", str(work / "bundle")],
        [*MEDSEG, "train", str(work / "bundle"), "--output-dir", str(work / "run"), "--time-limit", str(minutes),
         "--device", "cpu"],
        [*MEDSEG, "infer", str(work / "run"), "--input", str(data / "test/images"), "--output-dir",
         str(work / "pred"), "--device", "cpu"],
    ]
    script = " && ".join(" ".join(f"'{a}'" for a in step) for step in steps)
    script = f"start=$(date +%s.%N); {script} && echo seconds $(echo \"$(date +%s.%N) - $start\" | bc)"
    return _run(["bash", "-c", script], work / "log.txt")


def plain_column(data: Path, work: Path, minutes: float) -> subprocess.Popen:
    work.mkdir(parents=True, exist_ok=True)
    return _run([sys.executable, str(Path(__file__).resolve()), "--worker", "plain", "--out", str(work),
                 "--data", str(data), "--minutes", str(minutes)], work / "log.txt")


def plain_worker(data: Path, out: Path, minutes: float) -> None:
    """Plain MONAI: resize to 256², UNet, Dice + BCE, Adam with poly decay over the time budget."""
    import numpy as np
    import torch
    from monai import transforms as mt
    from monai.data import DataLoader, Dataset
    from monai.losses import DiceLoss
    from monai.networks.nets import UNet
    from PIL import Image

    torch.manual_seed(0)
    start = time.perf_counter()
    budget = minutes * 60
    # masks thresholded at 128 as SOURCES.md documents them (membranes: the structure is 0)
    foreground_is_zero = (out / "zero_is_foreground").exists()
    images = sorted((data / "train" / "images").iterdir())
    items = [{"image": str(p), "label": str(data / "train" / "masks" / p.name)} for p in images]

    def mask_fn(x):
        return (x < 128).float() if foreground_is_zero else (x >= 128).float()

    base = [mt.LoadImaged(["image", "label"], ensure_channel_first=True, reader="PILReader"),
            mt.Resized(["image", "label"], (256, 256), mode=("bilinear", "nearest")),
            mt.Lambdad("label", mask_fn), mt.NormalizeIntensityd("image")]
    train = mt.Compose([*base, mt.RandFlipd(["image", "label"], prob=0.5, spatial_axis=0),
                        mt.RandAffined(["image", "label"], prob=0.5, rotate_range=0.26, scale_range=0.15,
                                       mode=("bilinear", "nearest"))])
    loader = DataLoader(Dataset(items, train), batch_size=8, shuffle=True, num_workers=0)
    net = UNet(2, 1, 1, (16, 32, 64, 128, 256), (2, 2, 2, 2), num_res_units=2, norm="instance")
    dice, bce = DiceLoss(sigmoid=True), torch.nn.BCEWithLogitsLoss()
    optimiser = torch.optim.Adam(net.parameters(), 1e-3)
    steps = 0
    while time.perf_counter() - start < budget * 0.97:
        for batch in loader:
            left = 1 - (time.perf_counter() - start) / budget
            if left < 0.03:
                break
            for group in optimiser.param_groups:
                group["lr"] = 1e-3 * left**0.9
            optimiser.zero_grad()
            logits = net(batch["image"])
            loss = dice(logits, batch["label"]) + bce(logits, batch["label"])
            loss.backward()
            optimiser.step()
            steps += 1
    trained = time.perf_counter() - start
    net.eval()
    pred_dir = out / "pred"
    pred_dir.mkdir(exist_ok=True)
    infer = mt.Compose([mt.LoadImage(ensure_channel_first=True, reader="PILReader"),
                        mt.Resize((256, 256), mode="bilinear"), mt.NormalizeIntensity()])
    with torch.inference_mode():
        for path in sorted((data / "test" / "images").iterdir()):
            size = Image.open(path).size
            logits = net(infer(str(path))[None].as_tensor())
            mask = torch.nn.functional.interpolate((logits > 0).float(), size=size, mode="nearest")[0, 0]
            Image.fromarray(mask.numpy().T.astype(np.uint8)).save(pred_dir / f"{path.stem}_seg.png")
    print(json.dumps({"steps": steps, "train_s": round(trained, 1), "seconds": round(time.perf_counter() - start, 1)}))


def evaluate(pred: Path, truth: Path, bundle: Path) -> dict:
    done = subprocess.run([*MEDSEG, "evaluate", "--pred", str(pred), "--truth", str(truth), "--bundle", str(bundle),
                           "--json", "--csv", str(pred.parent / "evaluation.csv")],
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)}, check=False)
    if done.returncode != 0:
        raise SystemExit(f"evaluate failed on {pred}: {done.stdout[-2000:]}{done.stderr[-2000:]}")
    return json.loads(done.stdout)


def main() -> None:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--minutes", type=float, default=8.0, help="training budget per column (wall clock)")
    parser.add_argument("--work", type=Path, default=Path("/tmp/new_task_accuracy"))
    parser.add_argument("--data", type=Path, help=argparse_suppress())
    parser.add_argument("--datasets", nargs="*", default=list(DATASETS))
    args = parser.parse_args()
    if args.worker == "plain":
        plain_worker(args.data, args.out, args.minutes)
        return
    results = []
    for name in args.datasets:
        folder, labels, cases = DATASETS[name]
        work = args.work / name
        if work.exists():
            raise SystemExit(f"{work} exists: remove it or pass another --work")
        data = split(SHARED / folder, work / "data", cases)
        (work / "plain").mkdir(parents=True)
        if any(label.endswith("=0") for label in labels):
            (work / "plain" / "zero_is_foreground").touch()
        started = time.perf_counter()
        columns = {"medseg": medseg_column(data, work / "medseg", labels, args.minutes),
                   "plain": plain_column(data, work / "plain", args.minutes)}
        codes = {column: process.wait() for column, process in columns.items()}
        for column, code in codes.items():
            if code != 0:
                raise SystemExit(f"{name}/{column} failed; see {work / column / 'log.txt'}")
        bundle = work / "medseg" / "run"
        for column in columns:
            scores = evaluate(work / column / "pred", data / "test" / "masks", bundle)
            label = next(iter(scores["summary"]))
            metric = scores["metrics"][label]
            results.append({
                "dataset": name, "column": column, "test_cases": scores["cases"], "label": label,
                "dice_mean": scores["summary"][label]["mean"], "dice_std": scores["summary"][label]["std"],
                "hd95_px_median": metric["hd95_mm"]["median"],
                "minutes": args.minutes, "wall_s": round(time.perf_counter() - started, 1),
                "log_tail": (work / column / "log.txt").read_text().strip().splitlines()[-1:],
            })
    rows = [[r["dataset"], r["column"], r["test_cases"], r["dice_mean"], r["dice_std"], r["hd95_px_median"]]
            for r in results]
    print(table(["dataset", "column", "test cases", "Dice mean", "Dice std", "HD95 median (px)"], rows))
    print(f"training budget {args.minutes:g} min per column, both columns at the same time; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores at the end")
    if args.json:
        args.json.write_text(json.dumps({"minutes": args.minutes, "results": results}, indent=2) + "\n")


def argparse_suppress():
    import argparse

    return argparse.SUPPRESS


if __name__ == "__main__":
    main()
