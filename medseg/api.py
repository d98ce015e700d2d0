"""The Python API behind the CLI: ``medseg.train``, ``medseg.Predictor``, ``medseg.evaluate``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from medseg.bundles import REPO_BUNDLES, Bundle, find_bundle
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


def default_manifest(bundle_name: str) -> Path:
    path = REPO_MANIFESTS / f"{bundle_name}.json"
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
):
    """Train a bundle and return a ``TrainResult``; the run directory is itself a trained bundle."""
    from medseg.engine import distributed
    from medseg.engine.device import resolve_device

    source = find_bundle(bundle)
    distributed.setup(resolve_device(device))  # fail before any data is generated or read
    source.parser("inference", "train", overrides=overrides)  # unknown override keys fail here too
    if demo:  # generated once, by rank 0; broadcasting also makes the other ranks wait for it
        manifest = distributed.broadcast(demo_manifest(source.name) if distributed.is_main_process() else None)
    else:
        manifest = Path(data) if data else default_manifest(source.name)
    if not manifest.is_file():
        raise InputError("manifest not found", manifest)
    settings = dict(overrides or {})
    settings["datalist"] = str(manifest.resolve())
    settings["device"] = device
    if epochs is not None:
        settings["epochs"] = int(epochs)
    run_dir = distributed.broadcast(Path(output_dir) if output_dir else default_run_dir(source))
    if distributed.is_main_process():
        create_run_bundle(source, run_dir, settings)
    distributed.barrier()
    parser = Bundle(Path(run_dir).resolve()).parser("inference", "train")
    parser.get_parsed_content("initialize")  # seeds everything before the network is built, as MONAI's runner does
    trainer = parser.get_parsed_content("trainer")
    trainer.progress = progress and distributed.is_main_process()
    return trainer.run()
