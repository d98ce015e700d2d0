"""Chest X-ray accuracy: train the chest_xray bundle on JSRT/SCR cases, score Dice per structure on held-out ones.

Reproducible: a fixed seed picks the 40/10 split of ``../shared/data/jsrt_scr`` (when ``--train-dir``
and ``--test-dir`` are the same folder), training is epoch-based with a fixed seed, and the trained
run directory (``--run-dir``) is kept, so the same model can be scored on other cases by running
again with another ``--test-dir`` (an existing model is reused, not retrained).

    python benchmarks/chest_xray_accuracy.py --run-dir runs/chest_xray/bench --json results.json

Dice is computed on each X-ray's own pixel grid (the prediction is resampled back by the bundle's
inverted transforms; the half-size SCR masks are upsampled with nearest neighbour to that grid).
The cross-dataset check scores the union of both predicted lungs against the Montgomery lung masks.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

# On a shared CPU, OpenMP threads that spin while waiting make training several times slower.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from medseg.metrics import dice  # noqa: E402 - after the OpenMP setting, before anything imports torch

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
# Dice of a plain MONAI 2D UNet (DESIGN.md "Facts already measured") and Frid-Adar et al. 2018 (Jaccard J,
# shown as Dice = 2J / (1 + J)).
PLAIN_MONAI = {"right_lung": 0.971, "left_lung": 0.945, "heart": 0.938, "right_clavicle": 0.842,
               "left_clavicle": 0.837}
FRID_ADAR_JACCARD = {"right_lung": 0.961, "left_lung": 0.961, "heart": 0.906, "right_clavicle": 0.855,
                     "left_clavicle": 0.855}
TARGETS = {"right_lung": 0.95, "left_lung": 0.95, "heart": 0.90, "right_clavicle": 0.80, "left_clavicle": 0.80}


def truth_on_grid(mask_path: Path, shape_xy: tuple[int, int]) -> np.ndarray:
    """A {0,255} mask thresholded at 127, resized (nearest) onto the image grid, indexed (x, y)."""
    from PIL import Image

    from medseg.io.xray import read_xray

    mask = read_xray(mask_path).pixels > 127
    if mask.shape[::-1] != shape_xy:
        mask = np.asarray(Image.fromarray(mask).resize(shape_xy, Image.Resampling.NEAREST))
    return mask.T


def manifests(args: argparse.Namespace, work: Path) -> tuple[Path, list[dict]]:
    """The training manifest and the test entries (a seeded split when both folders are the same)."""
    from medseg.data.importers import import_dataset

    def import_structures(folder: Path, name: str, fraction: float = 0.0) -> Path:
        return import_dataset("folder", folder, "chest_xray", work / name, layout="structures",
                              test_fraction=fraction, seed=args.seed)

    same = args.train_dir.resolve() == args.test_dir.resolve()
    fraction = args.test_cases / len(list((args.train_dir / "images").glob("*.png"))) if same else 0.0
    train_manifest = import_structures(args.train_dir, "train.json", fraction)
    if same:
        test = json.loads(train_manifest.read_text())["test"]
        root = args.train_dir
    else:
        test = json.loads(import_structures(args.test_dir, "test.json").read_text())["training"]
        root = args.test_dir
    return train_manifest, [{**e, "image": e["image"][0], "root": str(root.resolve())} for e in test]


def train(args: argparse.Namespace, manifest: Path) -> float:
    """Train unless the run directory already holds a model; returns wall minutes (0 when reused)."""
    import medseg

    if (args.run_dir / "models" / "model.pt").is_file():
        print(f"reusing the trained model in {args.run_dir}")
        return 0.0
    overrides = {"validation_fraction": 0.0, "seed": args.seed}
    start = time.perf_counter()
    medseg.train("chest_xray", data=manifest, output_dir=args.run_dir, epochs=args.epochs, device="cpu",
                 overrides=overrides, progress=False)
    return (time.perf_counter() - start) / 60.0


def score_structures(predictor, entries: list[dict]) -> list[dict[str, float]]:
    from medseg.io.read import CaseFiles

    rows = []
    names = predictor.schema.channel_names
    for entry in entries:
        root = Path(entry["root"])
        case = CaseFiles(entry["id"], (root / entry["image"],))
        masks = predictor.predict(case).masks
        shape_xy = masks.shape[1:]
        row = {"case": entry["id"]}
        for name, mask, truth_file in zip(names, masks, entry["label"]):
            row[name] = dice(mask, truth_on_grid(root / truth_file, shape_xy))
        rows.append(row)
        print("  " + "  ".join(f"{k}={v:.3f}" if isinstance(v, float) else str(v) for k, v in row.items()), flush=True)
    return rows


def score_lung_field(predictor, folder: Path, pattern: str) -> list[float]:
    """Dice of (right lung ∪ left lung) against the single lung mask of each image/mask pair."""
    from medseg.io.read import CaseFiles

    names = list(predictor.schema.channel_names)
    lungs = [names.index("right_lung"), names.index("left_lung")]
    scores = []
    for image in sorted((folder / "images").glob(pattern)):
        masks = predictor.predict(CaseFiles(image.stem, (image,))).masks
        scores.append(dice(masks[lungs].any(0), truth_on_grid(folder / "masks" / image.name, masks.shape[1:])))
    return scores


def table(rows: list[dict[str, float]], names: tuple[str, ...]) -> str:
    lines = ["| structure | Dice mean | std | worst | plain MONAI (DESIGN) | Frid-Adar 2018 (J → Dice) | target |",
             "|---|---|---|---|---|---|---|"]
    for name in names:
        values = [r[name] for r in rows]
        jac = FRID_ADAR_JACCARD[name]
        lines.append(f"| {name} | {statistics.mean(values):.3f} | {statistics.pstdev(values):.3f} | {min(values):.3f} "
                     f"| {PLAIN_MONAI[name]:.3f} | {jac:.3f} → {2 * jac / (1 + jac):.3f} | ≥ {TARGETS[name]:.2f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-dir", type=Path, default=SHARED / "jsrt_scr")
    parser.add_argument("--test-dir", type=Path, default=SHARED / "jsrt_scr")
    parser.add_argument("--run-dir", type=Path, default=REPO / "runs" / "chest_xray" / "benchmark")
    parser.add_argument("--montgomery-dir", type=Path, default=SHARED / "montgomery_shenzhen")
    parser.add_argument("--montgomery-pattern", default="MCUCXR_*.png", help="Which pairs to score (glob).")
    parser.add_argument("--epochs", type=int, default=None, help="Default: the bundle's train.json.")
    parser.add_argument("--test-cases", type=int, default=10, help="Held out when train and test dirs are the same.")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="Write {cases, dice, minutes, ...} here.")
    args = parser.parse_args(argv)

    import torch

    from medseg.engine.infer import Predictor

    torch.manual_seed(args.seed)
    args.run_dir.mkdir(parents=True, exist_ok=True)
    train_manifest, test_entries = manifests(args, args.run_dir)
    print(f"training cases: {len(json.loads(train_manifest.read_text())['training'])}, test cases: {len(test_entries)}")
    minutes = train(args, train_manifest)
    print(f"training wall time: {minutes:.1f} min (torch threads: {torch.get_num_threads()})")
    predictor = Predictor.from_bundle(args.run_dir, device="cpu")
    rows = score_structures(predictor, test_entries)
    names = predictor.schema.channel_names
    print(table(rows, names))
    result = {"cases": len(rows), "dice": {n: statistics.mean(r[n] for r in rows) for n in names},
              "minutes": round(minutes, 2), "per_case": rows}
    if args.montgomery_dir.is_dir():
        lung = score_lung_field(predictor, args.montgomery_dir, args.montgomery_pattern)
        print(f"cross-dataset lung field ({args.montgomery_pattern}, n={len(lung)}): Dice mean {np.mean(lung):.3f} "
              f"median {np.median(lung):.3f} worst {np.min(lung):.3f}")
        result["lung_field"] = {"cases": len(lung), "dice_mean": float(np.mean(lung)),
                                "dice_median": float(np.median(lung)), "dice_min": float(np.min(lung))}
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
