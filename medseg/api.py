"""The Python API behind the CLI: ``medseg.train``, ``medseg.Predictor``, ``medseg.evaluate``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from medseg.bundles import REPO_BUNDLES, find_bundle
from medseg.errors import InputError
from medseg.runs import create_run_bundle, default_cache_dir, default_run_dir

REPO_MANIFESTS = REPO_BUNDLES.parent / "data_manifests"


def write_demo_data(bundle_name: str, output: str | Path, seed: int = 0) -> Path:
    """Write the built-in phantoms for a bundle into ``output``; return their manifest."""
    if bundle_name != "brain_tumor":
        raise InputError(f"no built-in demo data for bundle '{bundle_name}'", bundle_name)
    from medseg.data.synthetic import write_demo_dataset

    return write_demo_dataset(output, seed=seed)


def demo_manifest(bundle_name: str) -> Path:
    """Generate (once, in the user cache) the built-in phantoms for a bundle; return their manifest."""
    return write_demo_data(bundle_name, default_cache_dir() / "demo" / bundle_name)


def default_manifest(bundle_name: str, bundle_root: Path | None = None) -> Path:
    """``data_manifests/<bundle>.json``, else the bundle's own ``dataset.json`` (``medseg bundle new`` writes one)."""
    path = REPO_MANIFESTS / f"{bundle_name}.json"
    if not path.is_file() and bundle_root is not None and (bundle_root / "dataset.json").is_file():
        return bundle_root / "dataset.json"
    if not path.is_file():
        raise InputError(
            f"no dataset given: pass --data MANIFEST.json (MSD datalist), or --demo for built-in data "
            f"(looked for {path})"
        )
    return path


def train(
    bundle: str | Path,
    data: str | Path | None = None,
    demo: bool = False,
    output_dir: str | Path | None = None,
    epochs: int | None = None,
    device: str = "auto",
    overrides: dict[str, Any] | None = None,
    progress: bool = True,
    fold: int | None = None,
    cache: str | None = None,
):
    """Train a bundle and return a ``TrainResult``; the run directory is itself a trained bundle."""
    from medseg.engine.device import resolve_device

    source = find_bundle(bundle)
    resolve_device(device)  # fail before any data is generated or read
    source.parser("inference", "train", overrides=overrides)  # unknown override keys fail here too
    if demo:
        manifest = demo_manifest(source.name)
    else:
        manifest = Path(data) if data else default_manifest(source.name, source.root)
    if not manifest.is_file():
        raise InputError("manifest not found", manifest)
    settings = dict(overrides or {})
    settings["datalist"] = str(manifest.resolve())
    settings["device"] = device
    if epochs is not None:
        settings["epochs"] = int(epochs)
    if fold is not None:
        settings["fold"] = int(fold)
    if cache is not None:
        settings["cache"] = cache
    run_dir = Path(output_dir) if output_dir else default_run_dir(source)
    run_bundle = create_run_bundle(source, run_dir, settings)
    parser = run_bundle.parser("inference", "train")
    trainer = parser.get_parsed_content("trainer")
    trainer.progress = progress
    return trainer.run()
