"""``medseg data import folder --layout``: folder layouts declared as data in ``formats.json``.

A layout names the image folder, the accepted image suffixes, and either one mask folder paired
by file name or one mask folder per structure of the bundle. The chest X-ray layouts are two of
them (``data import-xray`` is this importer with ``--task chest_xray``):

* ``structures`` (JSRT/SCR): ``images/<id>.png`` and ``masks/<structure>/<id>.png``, one binary mask
  per structure, possibly at another resolution than the image (SCR masks are half size). Each
  case's label is the list of its mask files in the bundle's channel order; the chain stacks them.
* ``pairs`` (Montgomery/Shenzhen): ``images/<name>.png`` and ``masks/<name>.png`` with the same names.

A missing mask is an error naming the image, not a silently unlabelled case. No pixels are copied.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from medseg.bundle.find import Bundle
from medseg.errors import InputError

FORMATS_FILE = Path(__file__).with_name("formats.json")
Case = tuple[str, list[Path], Path | list[Path]]  # case id, image files, mask file (or one per structure)


@cache
def layouts() -> dict[str, dict[str, Any]]:
    return json.loads(FORMATS_FILE.read_text())["formats"]["folder"]["layouts"]


def _images(folder: Path, suffixes: tuple[str, ...]) -> list[Path]:
    if not folder.is_dir():
        raise InputError(f"expected an '{folder.name}' folder", folder)
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in suffixes and not p.name.startswith("."))
    if not files:
        raise InputError(f"no images ({', '.join('*' + s for s in suffixes)}) found", folder)
    return files


def _mask_for(folder: Path, image: Path, suffixes: tuple[str, ...]) -> Path:
    """The mask with the image's stem (any image suffix); missing masks are errors, not skipped cases."""
    for suffix in (image.suffix, *suffixes):
        candidate = folder / f"{image.stem}{suffix}"
        if candidate.is_file():
            return candidate
    raise InputError(f"no mask for image {image.name}", folder)


def bundle_structures(bundle: Bundle) -> list[str]:
    """The structures a per-structure layout needs: the metadata's list, else the schema's channel names."""
    return list(bundle.metadata.get("medseg", {}).get("structures") or bundle.schema.channel_names)


def layout_cases(source: Path, bundle: Bundle, layout: str) -> list[Case]:
    """Cases of a folder in ``layout`` for ``bundle``."""
    known = layouts()
    if layout not in known:
        raise InputError(f"unknown layout {layout!r} ({' or '.join(known)})", source)
    spec = known[layout]
    suffixes = tuple(spec["image_suffixes"])
    images = _images(source / spec["images"], suffixes)
    if "structure_masks" in spec:
        folders = [source / spec["structure_masks"].format(structure=name) for name in bundle_structures(bundle)]
        for folder in folders:
            if not folder.is_dir():
                raise InputError(f"no mask folder for structure '{folder.name}'", folder)
        return [(image.stem, [image], [_mask_for(f, image, suffixes) for f in folders]) for image in images]
    else:
        masks = source / spec["masks"]
        if not masks.is_dir():
            raise InputError(f"expected a '{spec['masks']}' folder", masks)
    return [(image.stem, [image], _mask_for(masks, image, suffixes)) for image in images]
