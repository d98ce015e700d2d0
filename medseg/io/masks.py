"""2D masks as users have them: binary {0,255}, palette PNGs, RGB colour codes, structure = 0, other sizes.

A ``MaskCoding`` says how stored mask values (grey levels, palette indices or RGB colours) become
label values; ``infer_coding`` works it out from the masks and the user's ``--labels`` and returns
a description to print, so a coding is never guessed silently. Its rule for grey values
(``code_values``) is also the rule for 3D masks (``bundle new`` on volumes). Arrays follow MONAI's PILReader
convention: axis 0 is the column (x), axis 1 the row (y).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from medseg.errors import InputError
from medseg.io.validate import read_voxels

BITMAP_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
SAMPLE = 200  # masks read to learn their values
BINARY_THRESHOLD = 128  # 8-bit binary masks: resized edges carry intermediate values
Colour = tuple[int, int, int]


def is_bitmap(path: str | Path) -> bool:
    return str(path).lower().endswith(BITMAP_SUFFIXES)


@dataclass(frozen=True)
class MaskCoding:
    """Stored mask values → label values.

    ``values``: grey level or palette index → label (unlisted values are errors, except 0 → 0);
    ``colours``: RGB → label (unlisted colours are errors, except black → 0);
    ``threshold``: binary masks, label 1 where ``stored >= threshold`` (``< threshold`` when ``inverted``).
    An empty coding keeps the stored values.
    """

    values: dict[int, int] = field(default_factory=dict)
    colours: dict[Colour, int] = field(default_factory=dict)
    threshold: int | None = None
    inverted: bool = False

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.values:
            out["values"] = {str(k): v for k, v in sorted(self.values.items())}
        if self.colours:
            out["colours"] = [[*c, v] for c, v in self.colours.items()]
        if self.threshold is not None:
            out["threshold"], out["inverted"] = self.threshold, self.inverted
        return out

    @classmethod
    def from_json(cls, raw: dict[str, Any] | None) -> MaskCoding:
        raw = raw or {}
        return cls({int(k): int(v) for k, v in raw.get("values", {}).items()},
                   {(int(r), int(g), int(b)): int(v) for r, g, b, v in raw.get("colours", [])},
                   raw.get("threshold"), bool(raw.get("inverted", False)))

    def label_map(self, found: Sequence[int]) -> dict[int, int]:
        """The coding as a manifest's ``label_map`` (stored value → label value) for grey values ``found``: a
        threshold lists every 8-bit value, unless the masks hold one non-zero value, which alone maps to 1."""
        if self.threshold is None:
            return dict(self.values)
        nonzero = [v for v in found if v]
        values = nonzero if len(nonzero) == 1 else range(1, 256)
        return {v: int((v < self.threshold) if self.inverted else (v >= self.threshold)) for v in values}

    def apply(self, stored: np.ndarray, path: str | Path | None = None) -> np.ndarray:
        """Label values (int64, spatial shape) from stored values ((x, y) or (x, y, 3) for colour)."""
        if stored.ndim == 3:
            return self._apply_colours(stored, path)
        if self.colours:
            raise InputError("mask is grey but the bundle's masks are colour-coded (--labels NAME=R,G,B)", path)
        stored = stored.astype(np.int64)
        if self.threshold is not None:
            return ((stored < self.threshold) if self.inverted else (stored >= self.threshold)).astype(np.int64)
        if not self.values:
            return stored
        unknown = sorted(set(np.unique(stored).tolist()) - set(self.values) - {0})
        if unknown:
            raise InputError(f"mask values {unknown[:8]} are not in the coding {sorted(self.values)}", path)
        out = np.zeros_like(stored)
        for value, label in self.values.items():
            out[stored == value] = label
        return out

    def _apply_colours(self, rgb: np.ndarray, path: str | Path | None) -> np.ndarray:
        if not self.colours:
            raise InputError("mask is an RGB image; name each label's colour: --labels NAME=R,G,B ...", path)
        packed = _pack(rgb)
        out = np.zeros(packed.shape, np.int64)
        known = np.zeros(packed.shape, bool)
        for colour, label in {(0, 0, 0): 0, **self.colours}.items():
            hit = packed == _pack(np.asarray(colour))
            out[hit], known[hit] = label, True
        if not known.all():
            missing = {tuple(int(c) for c in rgb[tuple(i)]) for i in np.argwhere(~known)[:1000]}
            raise InputError(f"{int((~known).sum())} pixel(s) have colours outside the colour table, e.g. "
                             f"{sorted(missing)[:3]}", path)
        return out


def _pack(rgb: np.ndarray) -> np.ndarray:
    rgb = rgb.astype(np.int64)
    return (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]


def read_stored(path: str | Path) -> np.ndarray:
    """A mask's stored values, (x, y): grey levels, palette indices (not colours), or (x, y, 3) RGB.

    An RGB file whose three channels agree is grey; NIfTI masks drop their singleton axes.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("file not found", path)
    if not is_bitmap(path):
        array = np.asarray(read_voxels(path))
        squeezed = np.squeeze(array)
        if squeezed.ndim != 2:
            raise InputError(f"expected a 2D mask, got shape {array.shape}", path)
        return np.rint(squeezed).astype(np.int64)
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            if image.mode in ("P", "L", "I", "I;16", "I;16B", "I;16L", "1"):
                array = np.asarray(image).astype(np.int64)
            else:
                array = np.asarray(image.convert("RGB")).astype(np.int64)
    except (OSError, UnidentifiedImageError) as exc:
        raise InputError(f"not a readable image ({exc})", path) from exc
    if array.ndim == 3 and (array == array[..., :1]).all():
        array = array[..., 0]
    return np.ascontiguousarray(np.swapaxes(array, 0, 1))


def read_mask(path: str | Path, coding: MaskCoding | None = None, shape: Sequence[int] | None = None) -> np.ndarray:
    """Label values (x, y) of one 2D mask; resized by nearest neighbour onto ``shape`` when it differs.

    A mask at another size than its image (SCR masks are half size) must cover the same field:
    the aspect ratio has to agree within 1 %.
    """
    label = (coding or MaskCoding()).apply(read_stored(path), path)
    if shape is not None and tuple(label.shape) != tuple(shape):
        label = resize_nearest(label, shape, path)
    return label


def read_structure_masks(paths: Sequence[str | Path], names: Sequence[str], shape: Sequence[int] | None = None,
                         coding: MaskCoding | None = None) -> np.ndarray:
    """One binary mask file per structure (SCR stores one PNG each), as (C, x, y) bool; overlaps kept.

    Bitmaps are thresholded (``coding``'s threshold, else ``BINARY_THRESHOLD``: resized edges carry
    intermediate values), NIfTI masks are ``> 0``. All land on ``shape`` (default: the first mask's).
    """
    if len(paths) != len(names):
        raise InputError(f"{len(paths)} mask file(s) for this case, the bundle needs {len(names)} "
                         f"(one per structure: {', '.join(names)})", paths[0] if paths else None)
    binary = coding if coding is not None and coding.threshold is not None else MaskCoding(threshold=BINARY_THRESHOLD)
    masks: list[np.ndarray] = []
    for path in paths:
        mask = read_mask(path, binary if is_bitmap(path) else None) > 0
        target = tuple(shape) if shape is not None else masks[0].shape if masks else mask.shape
        masks.append(mask if mask.shape == target else resize_nearest(mask, target, path))
    return np.stack(masks)


def resize_nearest(label: np.ndarray, shape: Sequence[int], path: str | Path | None = None) -> np.ndarray:
    """Nearest-neighbour resize of a 2D label map to ``shape``, refusing a different aspect ratio."""
    if abs(label.shape[0] / label.shape[1] - shape[0] / shape[1]) > 0.01 * shape[0] / shape[1]:
        raise InputError(f"mask size {tuple(label.shape)} does not cover the image {tuple(shape)} "
                         "(aspect ratio differs)", path)
    rows = (np.arange(shape[0]) + 0.5) * label.shape[0] / shape[0]
    cols = (np.arange(shape[1]) + 0.5) * label.shape[1] / shape[1]
    return label[np.minimum(rows.astype(int), label.shape[0] - 1)][:, np.minimum(cols.astype(int), label.shape[1] - 1)]


LabelSpec = int | Colour | None


def parse_labels(text: Sequence[str]) -> list[tuple[str, LabelSpec]]:
    """``road=128,64,128 car=0,0,142`` or ``membrane=0`` or ``lung`` (value inferred), comma lists too."""
    items: list[str] = []
    for chunk in text:
        items.extend(_split_specs(chunk))
    out: list[tuple[str, LabelSpec]] = []
    for item in items:
        name, _, spec = item.partition("=")
        name = name.strip()
        if not name:
            raise InputError(f"--labels: empty label name in {item!r}")
        if not spec:
            out.append((name, None))
            continue
        try:
            numbers = [int(v) for v in spec.split(",")]
        except ValueError as exc:
            raise InputError(f"--labels {item!r}: expected NAME=VALUE or NAME=R,G,B") from exc
        if len(numbers) not in (1, 3) or not all(0 <= v <= 65535 for v in numbers):
            raise InputError(f"--labels {item!r}: expected NAME=VALUE or NAME=R,G,B")
        out.append((name, numbers[0] if len(numbers) == 1 else tuple(numbers)))
    return out


def _split_specs(chunk: str) -> list[str]:
    """Split ``a,b,c`` into names but keep ``road=128,64,128`` together (commas after '=' are numbers)."""
    parts: list[str] = []
    for piece in chunk.replace(" ", ",").split(","):
        if not piece:
            continue
        if parts and "=" in parts[-1] and piece.isdigit():
            parts[-1] += "," + piece
        else:
            parts.append(piece)
    return parts


def read_colour_table(path: str | Path) -> list[tuple[str, LabelSpec]]:
    """A colour table file: one ``name r g b`` (or ``value name r g b``, Slicer .ctbl style) per line."""
    out: list[tuple[str, LabelSpec]] = []
    for line in Path(path).read_text().splitlines():
        fields = line.replace(",", " ").split()
        if not fields or fields[0].startswith("#"):
            continue
        if fields[0].isdigit() and len(fields) >= 5:
            fields = fields[1:5]
        if len(fields) < 4 or not all(f.isdigit() for f in fields[1:4]):
            raise InputError(f"colour table line {line!r}: expected NAME R G B", path)
        out.append((fields[0], tuple(int(f) for f in fields[1:4])))
    if not out:
        raise InputError("colour table holds no colours", path)
    return out


@dataclass
class InferredCoding:
    coding: MaskCoding
    lines: list[str]  # what was found and decided, to print


def infer_coding(masks: Sequence[Path], labels: Sequence[tuple[str, LabelSpec]]) -> InferredCoding:
    """How 2D masks code ``labels`` (label i+1 = labels[i]); every decision is described in ``lines``."""
    counts: Counter = Counter()
    colour = False
    for path in list(masks)[:SAMPLE]:
        stored = read_stored(path)
        if stored.ndim == 3:
            colour = True
            keys, n = np.unique(_pack(stored).ravel(), return_counts=True)
            counts.update({("rgb", int(k)): int(c) for k, c in zip(keys, n)})
        else:
            keys, n = np.unique(stored.ravel(), return_counts=True)
            counts.update({("v", int(k)): int(c) for k, c in zip(keys, n)})
    sampled = min(len(masks), SAMPLE)
    if colour:
        total = sum(counts.values()) or 1
        share = {k: c / total for k, c in counts.items()}
        found = sorted(k for kind, k in counts if kind == "rgb")
        lines = [f"masks: RGB colour-coded, {len(found)} colour(s) in {sampled} mask(s): " + ", ".join(
            f"{_unpack(k)} {100 * share[('rgb', k)]:.1f} %" for k in found[:12])]
        return _colour_coding(labels, found, share, lines, masks[0])
    return code_values(Counter({k: c for (_, k), c in counts.items()}), labels, sampled, masks[0])


def code_values(counts: Counter, labels: Sequence[tuple[str, LabelSpec]], sampled: int, where: Path,
                hint: str = "name each label's value: --labels NAME=VALUE ...") -> InferredCoding:
    """The one rule, for 2D masks and volumes alike, by which the grey values masks hold (value → pixel
    count over ``sampled`` masks) code ``labels``, in this order: the values each label was given; values
    that already are the labels (1..N); one label in 8-bit masks (their maximum is 255): binary, thresholded
    at ``BINARY_THRESHOLD`` (resized edges carry the values between); N distinct values for N labels, in
    sorted order. Anything else is refused, with ``hint`` (what the user can say instead)."""
    total = sum(counts.values()) or 1
    share = {("v", k): c / total for k, c in counts.items()}
    found = sorted(counts)
    main = sorted(sorted(found, key=lambda k: -share[("v", k)])[:6])
    rest = sum(share[("v", k)] for k in found if k not in main)
    lines = [f"masks: grey/palette values in {sampled} mask(s): " + ", ".join(
        f"{k} ({100 * share[('v', k)]:.1f} %)" for k in main)
        + (f" and {len(found) - len(main)} other value(s) ({100 * rest:.2f} %)" if rest or len(found) > 6 else "")]
    specs = [spec for _, spec in labels]
    if any(isinstance(s, tuple) for s in specs):
        raise InputError("the masks are grey, but --labels gives colours; give grey values (NAME=VALUE)", where)
    if any(s is not None for s in specs):
        return _value_coding(labels, found, share, lines, where)
    nonzero = [k for k in found if k != 0]
    n = len(labels)
    if set(nonzero) <= set(range(1, n + 1)):
        lines.append("coding: values are the label values (" + ", ".join(
            f"{i} = {name}" for i, (name, _) in enumerate(labels, 1)) + ")")
        return InferredCoding(MaskCoding(), lines)
    if n == 1 and max(nonzero) == 255:  # {0, 255}, maybe with resized edges
        name = labels[0][0]
        fg = sum(share[("v", k)] for k in found if k >= BINARY_THRESHOLD)
        lines.append(f"coding: binary 8-bit masks: {BINARY_THRESHOLD}–255 → 1 ({name}), 0–127 → background "
                     f"({100 * fg:.1f} % foreground)")
        if fg > 0.5:
            lines.append(f"note: {name} would cover {100 * fg:.0f} % of pixels; if the structure is the dark "
                         f"value, pass --labels {name}=0")
        return InferredCoding(MaskCoding(threshold=BINARY_THRESHOLD), lines)
    if len(nonzero) == n:
        mapping = {value: i for i, value in enumerate(nonzero, 1)}
        lines.append("coding: sorted values → labels: " + ", ".join(
            f"{v} → {i} ({labels[i - 1][0]})" for v, i in mapping.items()))
        return InferredCoding(MaskCoding(values=mapping), lines)
    shown = ", ".join(map(str, nonzero[:12])) + (", ..." if len(nonzero) > 12 else "")
    raise InputError(f"masks hold {len(nonzero)} non-zero values ({shown}), which do not map onto {n} label(s); "
                     f"{hint}", where.parent)


def _value_coding(labels, found, share, lines, where) -> InferredCoding:
    if any(s is None for _, s in labels):
        raise InputError("give every label a value (--labels a=1,b=2) or none", where)
    mapping = {int(spec): i for i, (_, spec) in enumerate(labels, 1)}
    missing = sorted(set(mapping) - set(found))
    if missing:
        raise InputError(f"no mask holds the value(s) {missing} named in --labels (found {found[:12]})", where)
    rest = [k for k in found if k not in mapping]
    if len(rest) == 1 and 0 in mapping:  # the structure is 0 (membranes): the one other value is background
        lines.append(f"coding: {rest[0]} → 0 (background, {100 * share[('v', rest[0])]:.1f} %)")
        mapping[rest[0]] = 0
    elif [k for k in rest if k != 0]:
        raise InputError(f"mask values {rest[:12]} are not named in --labels; name them or remap the masks", where)
    lines.append("coding: " + ", ".join(f"{v} → {i}" + (f" ({labels[i - 1][0]})" if i else "")
                                        for v, i in sorted(mapping.items())))
    return InferredCoding(MaskCoding(values=mapping), lines)


def _colour_coding(labels, found, share, lines, where) -> InferredCoding:
    if any(not isinstance(s, tuple) for _, s in labels):
        raise InputError("the masks are RGB colour-coded: name each label's colour, "
                         "e.g. --labels road=128,64,128 (or --colour-table FILE)", where)
    colours = {tuple(int(c) for c in spec): i for i, (_, spec) in enumerate(labels, 1)}
    known = {_pack(np.asarray(c)) for c in colours} | {0}
    unknown = [k for k in found if int(k) not in {int(x) for x in known}]
    if unknown:
        raise InputError(f"mask colours {[_unpack(k) for k in unknown[:6]]} are not named in --labels "
                         "(black is background)", where)
    lines.append("coding: " + ", ".join(f"{c} → {i} ({labels[i - 1][0]})" for c, i in colours.items())
                 + ", (0, 0, 0) → 0")
    return InferredCoding(MaskCoding(colours=colours), lines)


def _unpack(packed: int) -> Colour:
    return (packed >> 16) & 255, (packed >> 8) & 255, packed & 255
