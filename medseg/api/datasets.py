"""``medseg data demo|import|import-xray``: built-in demo data, and datasets imported into manifests (light: no torch).

A manifest checked against a bundle (``medseg data check``) is ``medseg.api.checking``.
"""

from __future__ import annotations

from pathlib import Path

from medseg.data.importers import import_dataset, parse_label_map
from medseg.data.synthetic import write_demo_dataset
from medseg.errors import InputError
from medseg.locations import REPO_MANIFESTS, default_cache_dir


def write_demo_data(bundle_name: str, output: str | Path, seed: int = 0) -> Path:
    """Write the built-in phantoms for a bundle into ``output``; return their manifest."""
    if bundle_name != "brain_tumor":
        raise InputError(f"no built-in demo data for bundle '{bundle_name}'", bundle_name)
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


def import_data(fmt: str, source: str | Path, task: str | Path, output: str | Path, data_root: str | Path | None = None,
                folds: int = 5, test_fraction: float = 0.0, seed: int = 0,
                label_map: str | dict[int, int] | None = None, layout: str | None = None,
                ignore: int | None = None) -> Path:
    """Import a dataset laid out as ``fmt`` (msd, brats, nnunet, folder) into a manifest for ``task``.

    ``label_map``: source → bundle label values, as ``{255: 1}`` or as ``--label-map`` writes it (``"255=1"``);
    ``ignore``: the source value of unannotated voxels (the bundle's void).
    """
    mapping = parse_label_map(label_map) if isinstance(label_map, str) or label_map is None else dict(label_map)
    return import_dataset(fmt, source, task, output, data_root=data_root, folds=folds, seed=seed,
                          test_fraction=test_fraction, label_map=mapping, layout=layout, ignore=ignore)


def import_xray(folder: str | Path, output: str | Path, layout: str = "structures", test_fraction: float = 0.0,
                seed: int = 0) -> Path:
    """A chest X-ray folder's manifest for ``chest_xray``: the folder importer with an X-ray layout."""
    return import_dataset("folder", folder, "chest_xray", output, seed=seed, test_fraction=test_fraction,
                          layout=layout)
