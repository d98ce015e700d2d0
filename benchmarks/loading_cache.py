"""Seconds per epoch on the brain_tumor demo data without and with the preprocessing cache, same run.

Two measurements, each for ``--cache none`` and ``--cache disk`` (MONAI PersistentDataset keyed by
file stats and transform parameters; see ``medseg.data.cache``):

* loading: one pass of the bundle's training transform chain over the 16 training phantoms
  (wall seconds, and CPU seconds of this process, which a busy shared machine disturbs less);
* with ``--training``: ``medseg.train`` epochs (bundle network; validation only in the last epoch).

Epoch 1 with ``disk`` fills the cache (cold); epochs 2+ read it (warm).

    python benchmarks/loading_cache.py [--epochs 4] [--workers 0] [--training]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path


def loading_epochs(manifest: Path, cache: str, cache_dir: Path, epochs: int, workers: int) -> tuple[list, list]:
    from monai.data import DataLoader, list_data_collate

    from medseg.bundle.find import find_bundle
    from medseg.data.cache import make_dataset
    from medseg.data.manifest import load_manifest

    bundle = find_bundle("brain_tumor")
    transforms = bundle.parser("inference", "train").get_parsed_content("train_transforms")
    loaded = load_manifest(manifest, modalities=bundle.modalities)
    items = [loaded.item(c) for c in loaded.cases("training")]
    dataset = make_dataset(items, transforms, cache, cache_dir)
    loader = DataLoader(dataset, batch_size=2, num_workers=workers, collate_fn=list_data_collate,
                        persistent_workers=workers > 0)
    wall, cpu = [], []
    for _ in range(epochs):
        start, start_cpu = time.perf_counter(), time.process_time()
        for _batch in loader:
            pass
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return wall, cpu


def training_epochs(manifest: Path, cache: str, cache_dir: Path, epochs: int, workers: int, out: Path) -> list[float]:
    import medseg

    result = medseg.train("brain_tumor", data=manifest, output_dir=out, epochs=epochs, device="cpu", progress=False,
                          cache=cache, overrides={"cache_dir": str(cache_dir), "val_interval": 10_000,
                                                  "num_workers": workers})
    return [row["seconds"] for row in result.history]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--training", action="store_true", help="also time full training epochs (slow on CPU)")
    args = parser.parse_args()

    from medseg.api import write_demo_data

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        manifest = write_demo_data("brain_tumor", tmp / "demo")
        rows = []
        for cache in ("none", "disk"):
            wall, cpu = loading_epochs(manifest, cache, tmp / f"cache-load-{cache}", args.epochs, args.workers)
            rows += [("loading, wall", cache, wall), ("loading, CPU", cache, cpu)]
        if args.training:
            for cache in ("none", "disk"):
                times = training_epochs(manifest, cache, tmp / f"cache-train-{cache}", args.epochs, args.workers,
                                        tmp / f"run-{cache}")
                rows.append(("training, wall", cache, times[:-1]))  # the last epoch also validates
        print(f"{'measure':<16}{'cache':<7}{'epoch 1 (s)':>12}{'epochs 2+ mean (s)':>20}   all epochs")
        for measure, cache, times in rows:
            warm = sum(times[1:]) / max(1, len(times) - 1)
            print(f"{measure:<16}{cache:<7}{times[0]:>12.2f}{warm:>20.2f}   {[round(t, 2) for t in times]}")


if __name__ == "__main__":
    main()
