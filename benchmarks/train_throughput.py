"""Training throughput: medseg's Trainer vs a plain MONAI loop, same network, loss, transforms and data.

Plain MONAI is the textbook loop: ``monai.data.Dataset`` (decode and preprocess every epoch) and a
``DataLoader``. medseg caches the deterministic part of the chain (``CacheDataset``) and only runs
the random crops/augmentation per step. Both train on the built-in phantoms in fresh processes and
report patches per second, the fraction of wall time spent in the training step (the rest is
waiting for data) and peak RSS.

    python benchmarks/train_throughput.py [--steps 200] [--json out.json]
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import benchmark_parser, peak_rss_mb, run_worker, table  # noqa: E402

STEPS_PER_EPOCH = 8  # 16 training phantoms, batch 2 cases x 2 patches each


def worker_medseg(manifest: Path, steps: int, out: Path) -> dict:
    import medseg

    epochs = max(1, round(steps / STEPS_PER_EPOCH))
    start = time.perf_counter()
    medseg.train("brain_tumor", data=manifest, output_dir=out, epochs=epochs, device="cpu", progress=False,
                 overrides={"val_interval": 10_000})
    wall = time.perf_counter() - start
    with (out / "metrics.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    step_s = sum(float(r["step_s"]) for r in rows)
    data_s = sum(float(r["data_s"]) for r in rows)
    patches = sum(int(r["patches"]) for r in rows)
    return {"patches_per_s": patches / (step_s + data_s), "step_fraction": step_s / (step_s + data_s),
            "patches": patches, "wall_s": wall, "peak_rss_mb": peak_rss_mb()}


def worker_plain(manifest: Path, steps: int, out: Path) -> dict:
    import torch
    from monai.bundle import ConfigParser
    from monai.data import DataLoader, Dataset, list_data_collate
    from monai.utils import set_determinism

    from medseg.bundle.find import find_bundle
    from medseg.data.manifest import case_to_dict, load_manifest

    bundle = find_bundle("brain_tumor")
    parser = ConfigParser()
    parser.read_config([str(p) for p in bundle.config_files("inference", "train")])
    parser.read_meta(str(bundle.root / "configs" / "metadata.json"))
    parser["bundle_root"] = str(bundle.root)
    set_determinism(0)
    net, loss_fn = parser.get_parsed_content("network_def"), parser.get_parsed_content("loss")
    transforms = parser.get_parsed_content("train_transforms")
    optimizer = torch.optim.AdamW(net.parameters(), lr=3e-3, weight_decay=1e-5)
    cases = load_manifest(manifest).cases("training")
    loader = DataLoader(Dataset([case_to_dict(c) for c in cases], transforms), batch_size=2, shuffle=True,
                        collate_fn=list_data_collate)
    step_s = data_s = 0.0
    done = patches = 0
    net.train()
    while done < steps:
        tick = time.perf_counter()
        for batch in loader:
            started = time.perf_counter()
            data_s += started - tick
            optimizer.zero_grad()
            loss = loss_fn(net(batch["image"].as_tensor()), batch["label"].as_tensor())
            loss.backward()
            optimizer.step()
            float(loss)
            patches += batch["image"].shape[0]
            done += 1
            tick = time.perf_counter()
            step_s += tick - started
            if done >= steps:
                break
    return {"patches_per_s": patches / (step_s + data_s), "step_fraction": step_s / (step_s + data_s),
            "patches": patches, "wall_s": step_s + data_s, "peak_rss_mb": peak_rss_mb()}


def main() -> None:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--steps", type=int, default=200, help="training steps per pipeline")
    parser.add_argument("--manifest", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        work = worker_plain if args.worker == "plain" else worker_medseg
        print(json.dumps(work(args.manifest, args.steps, args.out)))
        return

    from medseg.data.synthetic import write_demo_dataset

    tmp = Path(tempfile.mkdtemp(prefix="medseg-train-bench-"))
    manifest = write_demo_dataset(tmp / "data", n_train=16, n_val=0, n_test=0)
    results = {name: run_worker(Path(__file__), ["--worker", name, "--manifest", str(manifest), "--steps",
                                                 str(args.steps), "--out", str(tmp / name)])
               for name in ("plain", "medseg")}
    rows = [[name, r["patches"], r["patches_per_s"], r["step_fraction"], r["peak_rss_mb"]]
            for name, r in results.items()]
    print(table(["pipeline", "patches", "patches/s", "step fraction", "peak RSS MB"], rows))
    ratio = results["medseg"]["patches_per_s"] / results["plain"]["patches_per_s"]
    print(f"ratio medseg/plain patches per second: {ratio:.2f}")
    figures = {"medseg_patches_per_s": results["medseg"]["patches_per_s"],
               "plain_patches_per_s": results["plain"]["patches_per_s"], "ratio": ratio,
               "step_fraction": results["medseg"]["step_fraction"],
               "plain_step_fraction": results["plain"]["step_fraction"],
               "peak_rss_mb": results["medseg"]["peak_rss_mb"], "plain_peak_rss_mb": results["plain"]["peak_rss_mb"]}
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
