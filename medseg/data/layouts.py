"""Manifests for chest X-ray folders, written in place (no pixels copied; masks are resized on load).

Two layouts:

* ``structures`` (JSRT/SCR): ``images/<id>.png`` and ``masks/<structure>/<id>.png``, one binary mask
  per structure, possibly at another resolution than the image (SCR masks are half size). Each case's
  ``label`` is the list of its mask files in the bundle's channel order; the chain stacks them.
* ``pairs`` (Montgomery/Shenzhen): ``images/<name>.png`` and ``masks/<name>.png`` with one lung
  label (both lungs); masks are thresholded at 127 on load. Fit for lung-field scoring.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from medseg.data.manifest import write_manifest
from medseg.errors import InputError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".dcm")
SCR_STRUCTURES = ("right_lung", "left_lung", "heart", "right_clavicle", "left_clavicle")


def _images(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise InputError("expected an 'images' folder", folder)
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith("."))
    if not files:
        raise InputError("no images (*.png, *.jpg, *.dcm) found", folder)
    return files


def _mask_for(folder: Path, image: Path) -> Path:
    """The mask with the image's stem (any image suffix); missing masks are errors, not skipped cases."""
    for suffix in (image.suffix, *IMAGE_SUFFIXES):
        candidate = folder / f"{image.stem}{suffix}"
        if candidate.is_file():
            return candidate
    raise InputError(f"no mask for image {image.name}", folder)


def _split(entries: list[dict[str, Any]], test_fraction: float, seed: int) -> dict[str, list[dict[str, Any]]]:
    """Seeded split by case id into training and test (the trainer carves its own validation)."""
    ordered = sorted(entries, key=lambda e: e["id"])
    random.Random(seed).shuffle(ordered)
    n_test = round(len(ordered) * test_fraction)
    return {"training": sorted(ordered[n_test:], key=lambda e: e["id"]),
            "test": sorted(ordered[:n_test], key=lambda e: e["id"])}


def structure_entries(root: str | Path, structures: Sequence[str] = SCR_STRUCTURES) -> list[dict[str, Any]]:
    """One entry per image of a ``structures`` layout, mask paths relative to ``root``."""
    root = Path(root)
    folders = [root / "masks" / name for name in structures]
    for folder in folders:
        if not folder.is_dir():
            raise InputError(f"no mask folder for structure '{folder.name}'", folder)
    return [
        {"id": image.stem, "image": str(image.relative_to(root)),
         "label": [str(_mask_for(folder, image).relative_to(root)) for folder in folders]}
        for image in _images(root / "images")
    ]


def pair_entries(root: str | Path) -> list[dict[str, Any]]:
    """One entry per image of a ``pairs`` layout (``images/`` and ``masks/`` with the same names)."""
    root = Path(root)
    masks = root / "masks"
    if not masks.is_dir():
        raise InputError("expected a 'masks' folder", masks)
    return [
        {"id": image.stem, "image": str(image.relative_to(root)),
         "label": str(_mask_for(masks, image).relative_to(root))}
        for image in _images(root / "images")
    ]


def import_xray_folder(
    root: str | Path,
    output: str | Path,
    layout: str = "structures",
    structures: Sequence[str] = SCR_STRUCTURES,
    test_fraction: float = 0.0,
    seed: int = 0,
) -> Path:
    """Write a manifest for an X-ray folder; ``data_root`` is absolute so the manifest can live anywhere."""
    root = Path(root).resolve()
    if layout == "structures":
        entries = structure_entries(root, structures)
    elif layout == "pairs":
        entries = pair_entries(root)
    else:
        raise InputError(f"unknown layout {layout!r} (structures or pairs)", root)
    if not 0.0 <= test_fraction < 1.0:
        raise InputError(f"test fraction must be in [0, 1), got {test_fraction}", root)
    sections = _split(entries, test_fraction, seed)
    extra = {"data_root": str(root), "layout": layout}
    if layout == "structures":
        extra["structures"] = list(structures)
    return write_manifest(output, sections, **extra)
