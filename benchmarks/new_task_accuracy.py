"""A new task, end to end with the defaults, against a plain MONAI 2D UNet with the same budget.

For each real dataset (``../shared/data/isbi2012_em``: membranes; ``../shared/data/montgomery_shenzhen``:
lung fields; ``../shared/data/camvid_subset``: road scenes, 11 classes, 0 = sky, 11 = void) a split holds
out test cases (EM and lungs: seeded by file name; CamVid: the whole ``0006R0`` drive, unseen streets).
The medseg column runs the CLI as a user would: ``bundle new`` → ``train --time-limit`` → ``infer`` →
``evaluate``. The plain column trains a MONAI UNet (16…256, 2 residual units; the same network), Adam 1e-3
with polynomial decay over the same budget: EM and lungs on whole images resized to 256², Dice + BCE,
the mask resized back; CamVid at native resolution on random 192² patches with left-right flips, softmax
Dice (MONAI ``MaskedDiceLoss``) + cross-entropy with the void value masked out of both terms, batch 8,
a Gaussian sliding window at test. Both columns run at the same time, one thread each; both are scored
by the same ``medseg evaluate`` on the test masks at native size (CamVid: pooled IoU, void excluded).

``--validation`` decides settings without the test cases: the test drive is left out and the last stretch
of another drive is held out instead (CamVid: ``0016E5`` from frame 06540 on, streets not in training;
both drives, with their dusk and daylight, still train, as for the test). ``--override KEY=VALUE``
(repeatable) passes a setting to the medseg column's ``train`` and ``--columns`` picks the columns, so a
variant can be screened on its own.

``--clock cpu`` budgets each column by its own process CPU time (medseg: the trainer's ``clock``), so a
loaded machine does not change what each column gets; ``--clock wall`` (default) on a quiet machine.

    python benchmarks/new_task_accuracy.py --minutes 8 --json results.json
    python benchmarks/new_task_accuracy.py --datasets camvid_subset --minutes 20 --clock cpu
    python benchmarks/new_task_accuracy.py --datasets camvid_subset --validation --minutes 5 --clock cpu \
        --columns medseg --override learning_rate=0.003
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
CAMVID = ["sky", "building", "pole", "road", "pavement", "tree", "sign", "fence", "car", "pedestrian", "bicyclist"]
DATASETS = {  # name: (folder, bundle new's options as a user gives them, cases used (None: all), test drive)
    "isbi2012_em": ("isbi2012_em", ["--labels", "membrane=0"], None, None),
    "montgomery_shenzhen": ("montgomery_shenzhen", ["--labels", "lung"], 100, None),
    "camvid_subset": ("camvid_subset", [a for i, n in enumerate(CAMVID) for a in ("--labels", f"{n}={i}")]
                      + ["--ignore", "11"], None, "0006R0"),
}
# --validation: files from this name on, within its drive, are held out (the test drive is left out)
VALIDATION_FROM = {"camvid_subset": "0016E5_06540"}
MEDSEG = [sys.executable, "-m", "medseg"]
CPU_CLOCK = "$__import__('time').process_time"  # the trainer's budget on this process's CPU time
VOID = 11


def split(source: Path, work: Path, cases: int | None, test_fraction: float = 0.2, seed: int = 0,
          test_prefix: str | None = None, left_out: str | None = None, test_from: str | None = None) -> Path:
    """train/ and test/ folders of symlinks (images/ + masks/): a seeded split by file name, or every file
    whose name starts with ``test_prefix`` (a held-out drive; with ``test_from``, only its names from that
    one on) as the test set; files starting with ``left_out`` take no part."""
    names = sorted(p.name for p in (source / "images").iterdir()
                   if not p.name.startswith(".") and not (left_out and p.name.startswith(left_out)))
    random.Random(seed).shuffle(names)
    names = names[:cases] if cases else names
    if test_prefix:
        test = sorted(n for n in names if n.startswith(test_prefix) and n >= (test_from or ""))
        parts = (("test", test), ("train", sorted(set(names) - set(test))))
    else:
        n_test = round(len(names) * test_fraction)
        parts = (("test", names[:n_test]), ("train", names[n_test:]))
    for part, chosen in parts:
        for kind in ("images", "masks"):
            folder = work / part / kind
            folder.mkdir(parents=True, exist_ok=True)
            for name in chosen:
                (folder / name).symlink_to(source / kind / name)
    return work


def _run(command: list[str], log: Path) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    return subprocess.Popen(command, stdout=log.open("w"), stderr=subprocess.STDOUT, env=env, cwd=log.parent)


def medseg_column(data: Path, work: Path, options: list[str], minutes: float, clock: str,
                  overrides: list[str]) -> subprocess.Popen:
    """The whole user path (``medseg_worker``), in the background beside the plain column."""
    work.mkdir(parents=True, exist_ok=True)
    return _run([sys.executable, str(Path(__file__).resolve()), "--worker", "medseg", "--out", str(work),
                 "--data", str(data), "--minutes", str(minutes), "--clock", clock, "--options", json.dumps(options),
                 *(a for o in overrides for a in ("--override", o))], work / "log.txt")


def bundle_new(data: Path, options: list[str], output: Path) -> list[str]:
    """``bundle new`` on the split's training folders, as a user types it."""
    return [*MEDSEG, "bundle", "new", "task", "--from-folder", str(data / "train/images"), str(data / "train/masks"),
            *options, "--output", str(output)]


def medseg_worker(data: Path, work: Path, options: list[str], minutes: float, clock: str,
                  overrides: list[str]) -> None:
    """``bundle new`` → ``train --time-limit`` → ``infer``, each a CLI command as a user types it; with the CPU
    clock, ``train`` gets the trainer's ``clock`` through ``--override trainer=...`` (no key of its own)."""
    start = time.perf_counter()
    subprocess.run(bundle_new(data, options, work / "bundle"), check=True)
    train = [*MEDSEG, "train", str(work / "bundle"), "--output-dir", str(work / "run"), "--time-limit", str(minutes),
             "--device", "cpu", *(a for o in overrides for a in ("--override", o))]
    if clock == "cpu":
        trainer = json.loads((work / "bundle" / "configs" / "train.json").read_text())["trainer"]
        train += ["--override", "trainer=" + json.dumps({**trainer, "clock": CPU_CLOCK})]
    subprocess.run(train, check=True)
    subprocess.run([*MEDSEG, "infer", str(work / "run"), "--input", str(data / "test/images"), "--output-dir",
                    str(work / "pred"), "--device", "cpu"], check=True)
    print(f"seconds {time.perf_counter() - start:.1f}", flush=True)


def plain_column(data: Path, work: Path, minutes: float, clock: str) -> subprocess.Popen:
    work.mkdir(parents=True, exist_ok=True)
    return _run([sys.executable, str(Path(__file__).resolve()), "--worker", "plain", "--out", str(work),
                 "--data", str(data), "--minutes", str(minutes), "--clock", clock], work / "log.txt")


def train_for_budget(optimiser, loader, loss_of, budget: float, start: float, clock) -> int:
    """The plain columns' loop: Adam steps until ``budget`` seconds of ``clock`` since ``start`` are spent,
    the learning rate decayed as 1e-3 x (budget left)^0.9 before every step; returns the steps taken."""
    steps = 0
    while clock() - start < budget * 0.97:
        for batch in loader:
            left = 1 - (clock() - start) / budget
            if left < 0.03:
                break
            for group in optimiser.param_groups:
                group["lr"] = 1e-3 * left**0.9
            optimiser.zero_grad()
            loss_of(batch).backward()
            optimiser.step()
            steps += 1
    return steps


def plain_worker(data: Path, out: Path, minutes: float, clock=time.perf_counter) -> None:
    """Plain MONAI: resize to 256², UNet, Dice + BCE, Adam with poly decay over the time budget."""
    import numpy as np
    import torch
    from monai import transforms as mt
    from monai.data import DataLoader, Dataset
    from monai.losses import DiceLoss
    from monai.networks.nets import UNet
    from PIL import Image

    torch.manual_seed(0)
    start = clock()
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

    def loss_of(batch):
        logits = net(batch["image"])
        return dice(logits, batch["label"]) + bce(logits, batch["label"])

    steps = train_for_budget(optimiser, loader, loss_of, budget, start, clock)
    trained = clock() - start
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
    print(json.dumps({"steps": steps, "train_s": round(trained, 1), "seconds": round(clock() - start, 1)}))


def plain_classes_worker(data: Path, out: Path, minutes: float, clock=time.perf_counter) -> None:
    """Plain MONAI for many exclusive classes with a void value (CamVid): native resolution, random 192² patches,
    left-right flips, softmax Dice (``MaskedDiceLoss``) + cross-entropy, void masked out of both terms, Adam
    1e-3 with poly decay over the budget, batch 8, Gaussian sliding window at test; masks written as values."""
    import numpy as np
    import torch
    from monai import transforms as mt
    from monai.data import DataLoader, Dataset
    from monai.inferers import sliding_window_inference
    from monai.losses import MaskedDiceLoss
    from monai.networks.nets import UNet
    from PIL import Image

    torch.manual_seed(0)
    start = clock()
    budget = minutes * 60
    classes = len(CAMVID)
    items = [{"image": str(p), "label": str(data / "train" / "masks" / p.name)}
             for p in sorted((data / "train" / "images").iterdir())]
    keys = ["image", "label"]
    train = mt.Compose([
        mt.LoadImaged(keys, ensure_channel_first=True, reader="PILReader"),
        mt.NormalizeIntensityd("image", channel_wise=True),
        mt.RandSpatialCropd(keys, (192, 192), random_size=False), mt.RandFlipd(keys, prob=0.5, spatial_axis=0)])
    loader = DataLoader(Dataset(items, train), batch_size=8, shuffle=True, num_workers=0)
    net = UNet(2, 3, classes, (16, 32, 64, 128, 256), (2, 2, 2, 2), num_res_units=2, norm="instance")
    dice = MaskedDiceLoss(softmax=True)
    optimiser = torch.optim.Adam(net.parameters(), 1e-3)

    def loss_of(batch):
        label = batch["label"].as_tensor().long()[:, 0]
        known = label != VOID
        target = torch.nn.functional.one_hot(torch.where(known, label, 0), classes).movedim(-1, 1).float()
        logits = net(batch["image"].as_tensor())
        return dice(logits, target, mask=known[:, None].float()) + torch.nn.functional.cross_entropy(
            logits, torch.where(known, label, -100), ignore_index=-100)

    steps = train_for_budget(optimiser, loader, loss_of, budget, start, clock)
    trained = clock() - start
    net.eval()
    pred_dir = out / "pred"
    pred_dir.mkdir(exist_ok=True)
    infer = mt.Compose([mt.LoadImage(ensure_channel_first=True, reader="PILReader"),
                        mt.NormalizeIntensity(channel_wise=True)])
    with torch.inference_mode():
        for path in sorted((data / "test" / "images").iterdir()):
            logits = sliding_window_inference(infer(str(path))[None].as_tensor(), (192, 192), 4, net, overlap=0.5,
                                              mode="gaussian")
            label = logits.argmax(1)[0].numpy().astype(np.uint8)
            Image.fromarray(np.ascontiguousarray(label.T)).save(pred_dir / f"{path.stem}_seg.png")
    print(json.dumps({"steps": steps, "train_s": round(trained, 1), "seconds": round(clock() - start, 1)}))


def evaluate(pred: Path, truth: Path, bundle: Path) -> dict:
    done = subprocess.run([*MEDSEG, "evaluate", "--pred", str(pred), "--truth", str(truth), "--bundle", str(bundle),
                           "--json", "--csv", str(pred.parent / "evaluation.csv")],
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)}, check=False)
    if done.returncode != 0:
        raise SystemExit(f"evaluate failed on {pred}: {done.stdout[-2000:]}{done.stderr[-2000:]}")
    return json.loads(done.stdout)


def main() -> None:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--minutes", type=float, default=8.0, help="training budget per column")
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                        help="budget in wall-clock seconds, or in each column's own process CPU seconds")
    parser.add_argument("--work", type=Path, default=Path("/tmp/new_task_accuracy"))
    parser.add_argument("--data", type=Path, help=argparse_suppress())
    parser.add_argument("--options", help=argparse_suppress())
    parser.add_argument("--datasets", nargs="*", default=list(DATASETS))
    parser.add_argument("--validation", action="store_true",
                        help="leave the test drive out and hold out another one (settings are decided here)")
    parser.add_argument("--override", action="append", default=[], metavar="KEY=VALUE",
                        help="a setting for the medseg column's train (repeatable)")
    parser.add_argument("--columns", default="medseg,plain", help="which columns to run")
    args = parser.parse_args()
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    if args.worker == "plain":
        classes = (args.out / "classes").exists()
        (plain_classes_worker if classes else plain_worker)(args.data, args.out, args.minutes, clock)
        return
    if args.worker == "medseg":
        medseg_worker(args.data, args.out, json.loads(args.options), args.minutes, args.clock, args.override)
        return
    results, pooled = [], {}
    for name in args.datasets:
        folder, options, cases, test_prefix = DATASETS[name]
        work = args.work / name
        if work.exists():
            raise SystemExit(f"{work} exists: remove it or pass another --work")
        if args.validation:
            if name not in VALIDATION_FROM:
                raise SystemExit(f"--validation: {name} has no validation split")
            test_from = VALIDATION_FROM[name]
            test_prefix, left_out = test_from.split("_")[0], test_prefix
        else:
            left_out = test_from = None
        data = split(SHARED / folder, work / "data", cases, test_prefix=test_prefix, left_out=left_out,
                     test_from=test_from)
        (work / "plain").mkdir(parents=True)
        if any(option.endswith("=0") for option in options) and "--ignore" not in options:
            (work / "plain" / "zero_is_foreground").touch()
        if "--ignore" in options:
            (work / "plain" / "classes").touch()
        started = time.perf_counter()
        wanted = args.columns.split(",")
        columns = {}
        if "medseg" in wanted:
            columns["medseg"] = medseg_column(data, work / "medseg", options, args.minutes, args.clock, args.override)
        if "plain" in wanted:
            columns["plain"] = plain_column(data, work / "plain", args.minutes, args.clock)
        codes = {column: process.wait() for column, process in columns.items()}
        for column, code in codes.items():
            if code != 0:
                raise SystemExit(f"{name}/{column} failed; see {work / column / 'log.txt'}")
        bundle = work / "medseg" / "run"
        if not bundle.exists():  # the plain column alone: the user's bundle only names the labels for evaluate
            bundle = work / "bundle"
            subprocess.run(bundle_new(data, options, bundle), check=True, capture_output=True,
                           env={**os.environ, "PYTHONPATH": str(REPO)})
        for column in columns:
            scores = evaluate(work / column / "pred", data / "test" / "masks", bundle)
            if "--ignore" in options:
                log = (work / column / "log.txt").read_text().splitlines()
                bought = [line for line in log if line.startswith("time budget") or line.startswith('{"steps"')]
                pooled[(name, column)] = {**scores["pooled"], "budget": bought[-1:], "log_tail": log[-1:]}
                continue
            label = next(iter(scores["summary"]))
            metric = scores["metrics"][label]
            results.append({
                "dataset": name, "column": column, "test_cases": scores["cases"], "label": label,
                "dice_mean": scores["summary"][label]["mean"], "dice_std": scores["summary"][label]["std"],
                "hd95_px_median": metric["hd95_mm"]["median"],
                "minutes": args.minutes, "wall_s": round(time.perf_counter() - started, 1),
                "log_tail": _tail(work / column / "log.txt"),
            })
    if results:
        rows = [[r["dataset"], r["column"], r["test_cases"], r["dice_mean"], r["dice_std"], r["hd95_px_median"]]
                for r in results]
        print(table(["dataset", "column", "test cases", "Dice mean", "Dice std", "HD95 median (px)"], rows))
    for name in dict.fromkeys(dataset for dataset, _ in pooled):
        ran = [column for column in ("medseg", "plain") if (name, column) in pooled]
        print(pooled_table(name, *(pooled[(name, column)] for column in ran), columns=ran))
        for column in ran:
            print(f"{name} {column}: {' '.join(pooled[(name, column)]['budget'])}")
    print(f"training budget {args.minutes:g} min per column ({args.clock} clock), both columns at the same time; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores at the end")
    if args.json:
        args.json.write_text(json.dumps({"minutes": args.minutes, "clock": args.clock, "results": results,
                                         "pooled": {f"{d}/{c}": v for (d, c), v in pooled.items()}}, indent=2) + "\n")


def _tail(log: Path) -> list[str]:
    return log.read_text().strip().splitlines()[-1:]


def pooled_table(name: str, *scores: dict, columns: list[str]) -> str:
    """Per-class pooled IoU of each column (and medseg / plain when both ran), then the mean IoU (void excluded)."""
    def ratio(a, b):
        return None if a is None or not b else a / b

    both = len(scores) == 2
    classes = list(scores[0]["iou"])
    rows = [[name if i == 0 else "", cls, *(s["iou"][cls] for s in scores)]
            + ([ratio(scores[0]["iou"][cls], scores[1]["iou"][cls])] if both else []) for i, cls in enumerate(classes)]
    rows.append(["", "mean IoU", *(s["miou"] for s in scores)]
                + ([ratio(scores[0]["miou"], scores[1]["miou"])] if both else []))
    return table(["dataset", "class", *(f"{c} IoU" for c in columns)] + (["medseg / plain"] if both else []), rows)


def argparse_suppress():
    import argparse

    return argparse.SUPPRESS


if __name__ == "__main__":
    main()
