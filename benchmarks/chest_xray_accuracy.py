"""Chest X-ray accuracy: medseg's chest_xray bundle against a plain MONAI 2D UNet, trained in the same run.

A fixed seed picks the 40/10 split of ``../shared/data/jsrt_scr`` (when ``--train-dir`` and
``--test-dir`` are the same folder). Two columns train at the same time, one process and one torch
thread each, for the same wall-clock budget (``--minutes``), so they share whatever load the machine
carries:

* medseg: ``medseg.train("chest_xray", time_limit=MINUTES)`` (the bundle's recipe, its epochs unless
  the budget ends first), then ``Predictor.predict`` (inverted resize, largest component per structure);
* plain MONAI: DESIGN.md's "Chest X-ray reference": ``monai.networks.nets.UNet`` (channels 32…512,
  strides 2, 2 residual units) on the X-rays resized to 256², five sigmoid channels, Dice(sigmoid) +
  BCE, Adam 1e-3 with cosine decay over the budget, batch 8, no augmentation; prediction at 256²,
  probabilities resized back (bilinear) to the X-ray's grid and thresholded at 0.5. The palette
  JSRT PNGs are read as their displayed grey levels (PIL ``convert("L")``) in both columns.

Both columns are scored by the same code: Dice per structure on each X-ray's own pixel grid (the
half-size SCR masks upsampled with nearest neighbour), and the lung field (right ∪ left lung against
the single lung mask) on the Montgomery images as a cross-dataset check. Trained models are kept
(``--run-dir``: the medseg run, ``RUN_DIR/plain_monai/model.pt``) and reused by a second run.

    python benchmarks/chest_xray_accuracy.py --minutes 25 --run-dir runs/chest_xray/bench --json chest.json
"""

from __future__ import annotations

import json
import math
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

# On a shared CPU, OpenMP threads that spin while waiting make training several times slower.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, benchmark_parser, run_worker  # noqa: E402

from medseg.evaluation.metrics import dice  # noqa: E402

SHARED = Path(os.environ.get("MEDSEG_SHARED_DATA", REPO.parent / "shared" / "data"))
# Frid-Adar et al. 2018 (Jaccard J, shown as Dice = 2J / (1 + J)): published, not measured here.
FRID_ADAR_JACCARD = {"right_lung": 0.961, "left_lung": 0.961, "heart": 0.906, "right_clavicle": 0.855,
                     "left_clavicle": 0.855}
TARGETS = {"right_lung": 0.95, "left_lung": 0.95, "heart": 0.90, "right_clavicle": 0.80, "left_clavicle": 0.80}
PLAIN_SIZE = (256, 256)


def grey(path: Path) -> np.ndarray:
    """An X-ray as displayed (palette PNGs through their palette), float32, indexed (x, y)."""
    from PIL import Image

    with Image.open(path) as image:
        return np.asarray(image.convert("L"), np.float32).T


def truth_on_grid(mask_path: Path, shape_xy: tuple[int, int]) -> np.ndarray:
    """A {0,255} mask thresholded at 127, resized (nearest) onto the image grid, indexed (x, y)."""
    from PIL import Image

    from medseg.io.xray import read_xray

    mask = read_xray(mask_path).pixels > 127
    if mask.shape[::-1] != shape_xy:
        mask = np.asarray(Image.fromarray(mask).resize(shape_xy, Image.Resampling.NEAREST))
    return mask.T


def split(args, work: Path) -> tuple[Path, list[dict]]:
    """The training manifest and the test entries (a seeded split when both folders are the same)."""
    from medseg.data.importers import import_dataset

    def import_structures(folder: Path, name: str, fraction: float = 0.0) -> Path:
        return import_dataset("folder", folder, "chest_xray", work / name, layout="structures",
                              test_fraction=fraction, seed=args.seed)

    same = args.train_dir.resolve() == args.test_dir.resolve()
    fraction = args.test_cases / len(list((args.train_dir / "images").glob("*.png"))) if same else 0.0
    train_manifest = import_structures(args.train_dir, "train.json", fraction)
    if same:
        test, root = json.loads(train_manifest.read_text())["test"], args.train_dir
    else:
        test, root = json.loads(import_structures(args.test_dir, "test.json").read_text())["training"], args.test_dir
    return train_manifest, [{**e, "image": e["image"][0], "root": str(root.resolve())} for e in test]


def score(predict, entries: list[dict], names: tuple[str, ...], montgomery: Path, pattern: str) -> dict:
    """Dice per structure on the test X-rays, and the Montgomery lung field; ``predict(path)`` gives
    (structures, x, y) bool masks on the X-ray's own grid in ``names`` order."""
    rows = []
    for entry in entries:
        root = Path(entry["root"])
        masks = predict(root / entry["image"])
        rows.append({"case": entry["id"], **{name: dice(mask, truth_on_grid(root / truth, masks.shape[1:]))
                                             for name, mask, truth in zip(names, masks, entry["label"])}})
        print("  " + "  ".join(f"{k}={v:.3f}" if isinstance(v, float) else str(v) for k, v in rows[-1].items()),
              flush=True)
    result = {"per_case": rows, "dice": {n: statistics.mean(r[n] for r in rows) for n in names},
              "std": {n: statistics.pstdev(r[n] for r in rows) for n in names},
              "worst": {n: min(r[n] for r in rows) for n in names}}
    images = sorted((montgomery / "images").glob(pattern)) if montgomery.is_dir() else []
    if images:
        lungs = [names.index("right_lung"), names.index("left_lung")]
        field = []
        for image in images:
            masks = predict(image)
            field.append(dice(masks[lungs].any(0), truth_on_grid(montgomery / "masks" / image.name, masks.shape[1:])))
        result["lung_field"] = {"cases": len(field), "dice_mean": float(np.mean(field)),
                                "dice_median": float(np.median(field)), "dice_min": float(np.min(field))}
    return result


def medseg_worker(args, manifest: Path, entries: list[dict]) -> dict:
    """Train the chest_xray bundle for the budget (unless the run directory holds a model), then score it."""
    import medseg
    from medseg.inference.predictor import Predictor
    from medseg.io.read import CaseFiles

    start, trained = time.perf_counter(), None
    if not (args.run_dir / "models" / "model.pt").is_file():
        result = medseg.train("chest_xray", data=manifest, output_dir=args.run_dir, epochs=args.epochs, device="cpu",
                              overrides={"validation_fraction": 0.0, "seed": args.seed}, progress=False,
                              time_limit=args.minutes)
        trained = {"epochs": len(result.history)}
    minutes = (time.perf_counter() - start) / 60
    predictor = Predictor.from_bundle(args.run_dir, device="cpu")
    scores = score(lambda path: predictor.predict(CaseFiles(path.stem, (path,))).masks, entries,
                   predictor.schema.channel_names, args.montgomery_dir, args.montgomery_pattern)
    return {**scores, "train_minutes": round(minutes, 2), "trained": trained}


def _plain_pairs(manifest: Path, names: tuple[str, ...]):
    """The training X-rays and their structure masks, resized once to 256² (as a CacheDataset would)."""
    import torch
    from monai.transforms import Resize

    document = json.loads(manifest.read_text())
    root = (manifest.parent / document.get("data_root", ".")).resolve()
    images, masks = [], []
    for entry in document["training"]:
        image = grey(root / entry["image"][0])
        images.append(_scale(np.asarray(Resize(PLAIN_SIZE, mode="bilinear", anti_aliasing=True)(image[None]))))
        structures = np.stack([truth_on_grid(root / path, image.shape) for path in entry["label"]]).astype(np.float32)
        masks.append(np.asarray(Resize(PLAIN_SIZE, mode="nearest")(structures)))
    assert len(masks[0]) == len(names)
    return torch.as_tensor(np.stack(images)), torch.as_tensor(np.stack(masks))


def _scale(image: np.ndarray) -> np.ndarray:
    """MONAI ``ScaleIntensity``: each X-ray to [0, 1]."""
    from monai.transforms import ScaleIntensity

    return np.asarray(ScaleIntensity()(image), np.float32)


def plain_worker(args, manifest: Path, entries: list[dict], names: tuple[str, ...]) -> dict:
    """DESIGN.md's plain MONAI reference, trained for the same budget (or reused), then scored."""
    import torch
    from monai.losses import DiceLoss
    from monai.networks.nets import UNet
    from monai.transforms import Resize

    torch.manual_seed(args.seed)
    net = UNet(2, 1, len(names), (32, 64, 128, 256, 512), (2, 2, 2, 2), num_res_units=2)
    weights = args.run_dir / "plain_monai" / "model.pt"
    start, steps = time.perf_counter(), None
    if weights.is_file():
        net.load_state_dict(torch.load(weights, weights_only=True))
    else:
        images, masks = _plain_pairs(manifest, names)
        dice_loss, bce = DiceLoss(sigmoid=True), torch.nn.BCEWithLogitsLoss()
        optimiser = torch.optim.Adam(net.parameters(), 1e-3)
        generator = torch.Generator().manual_seed(args.seed)
        budget, steps = args.minutes * 60, 0
        while (spent := time.perf_counter() - start) < budget:
            for group in optimiser.param_groups:
                group["lr"] = 1e-3 * 0.5 * (1 + math.cos(math.pi * spent / budget))
            batch = torch.randperm(len(images), generator=generator)[:8]
            optimiser.zero_grad()
            logits = net(images[batch])
            loss = dice_loss(logits, masks[batch]) + bce(logits, masks[batch])
            loss.backward()
            optimiser.step()
            steps += 1
        weights.parent.mkdir(parents=True, exist_ok=True)
        torch.save(net.state_dict(), weights)
    minutes = (time.perf_counter() - start) / 60
    net.eval()

    def predict(path: Path) -> np.ndarray:
        image = grey(path)
        small = _scale(np.asarray(Resize(PLAIN_SIZE, mode="bilinear", anti_aliasing=True)(image[None])))
        with torch.inference_mode():
            probabilities = torch.sigmoid(net(torch.as_tensor(small)[None]))
        full = torch.nn.functional.interpolate(probabilities, size=image.shape, mode="bilinear")
        return (full[0] > 0.5).numpy()

    scores = score(predict, entries, names, args.montgomery_dir, args.montgomery_pattern)
    return {**scores, "train_minutes": round(minutes, 2), "trained": None if steps is None else {"steps": steps}}


def table(results: dict[str, dict], names: tuple[str, ...]) -> str:
    lines = ["| structure | medseg Dice mean | std | worst | plain MONAI mean | std | worst | "
             "Frid-Adar 2018 (J → Dice) | target |", "|---|---|---|---|---|---|---|---|---|"]
    for name in names:
        cells = [f"{results[c][k][name]:.3f}" for c in ("medseg", "plain") for k in ("dice", "std", "worst")]
        jac = FRID_ADAR_JACCARD[name]
        lines.append(f"| {name} | {' | '.join(cells)} | {jac:.3f} → {2 * jac / (1 + jac):.3f} "
                     f"| ≥ {TARGETS[name]:.2f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--minutes", type=float, default=25.0, help="Training budget of each column (wall clock).")
    parser.add_argument("--train-dir", type=Path, default=SHARED / "jsrt_scr")
    parser.add_argument("--test-dir", type=Path, default=SHARED / "jsrt_scr")
    parser.add_argument("--run-dir", type=Path, default=REPO / "runs" / "chest_xray" / "benchmark")
    parser.add_argument("--montgomery-dir", type=Path, default=SHARED / "montgomery_shenzhen")
    parser.add_argument("--montgomery-pattern", default="MCUCXR_*.png", help="Which pairs to score (glob).")
    parser.add_argument("--epochs", type=int, default=None, help="medseg: at most this many epochs (default: "
                                                                  "the bundle's train.json) within --minutes.")
    parser.add_argument("--test-cases", type=int, default=10, help="Held out when train and test dirs are the same.")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if not (math.isfinite(args.minutes) and args.minutes > 0):
        parser.error("--minutes must be a finite positive number")
    if args.worker:  # one column, in its own process; the split was written by the parent
        import torch

        from medseg.bundle.find import find_bundle

        torch.set_num_threads(1)
        split_made = json.loads(args.out.read_text())
        manifest, entries = Path(split_made["manifest"]), split_made["entries"]
        names = find_bundle("chest_xray").schema.channel_names
        result = medseg_worker(args, manifest, entries) if args.worker == "medseg" else \
            plain_worker(args, manifest, entries, names)
        print(json.dumps(result))
        return 0
    args.run_dir.mkdir(parents=True, exist_ok=True)
    manifest, entries = split(args, args.run_dir / "split")
    split_file = args.run_dir / "split" / "split.json"
    split_file.write_text(json.dumps({"manifest": str(manifest), "entries": entries}))
    print(f"training cases: {len(json.loads(manifest.read_text())['training'])}, test cases: {len(entries)}; "
          f"{args.minutes:g} min per column, both at once, one thread each; load average {os.getloadavg()[0]:.1f} "
          f"on {os.cpu_count()} cores at the start", flush=True)
    results = run_columns(args, split_file)
    from medseg.bundle.find import find_bundle

    print(table(results, find_bundle("chest_xray").schema.channel_names))
    for column, result in results.items():
        field = result.get("lung_field")
        done = "reused the saved model" if result["trained"] is None else \
            ", ".join(f"{v} {k}" for k, v in result["trained"].items())
        print(f"{column}: training {result['train_minutes']:.1f} min, data loading included ({done})"
              + (f"; Montgomery lung field n={field['cases']}: mean {field['dice_mean']:.3f}, median "
                 f"{field['dice_median']:.3f}, worst {field['dice_min']:.3f}" if field else ""))
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")
    if args.json:
        args.json.write_text(json.dumps({"minutes": args.minutes, "load_average_end": os.getloadavg()[0],
                                         "columns": results}, indent=2) + "\n")
    return 0


def run_columns(args, split_file: Path) -> dict[str, dict]:
    """Both columns at the same time, each in its own process with one OpenMP thread."""
    from concurrent.futures import ThreadPoolExecutor

    os.environ["OMP_NUM_THREADS"] = "1"
    common = ["--minutes", str(args.minutes), "--run-dir", str(args.run_dir), "--montgomery-dir",
              str(args.montgomery_dir), "--montgomery-pattern", args.montgomery_pattern, "--seed", str(args.seed),
              "--out", str(split_file), *(["--epochs", str(args.epochs)] if args.epochs else [])]
    script = Path(__file__).resolve()
    with ThreadPoolExecutor(2) as pool:
        futures = {c: pool.submit(run_worker, script, [*common, "--worker", c]) for c in ("medseg", "plain")}
        return {column: future.result() for column, future in futures.items()}


if __name__ == "__main__":
    sys.exit(main())
