"""How a user's masks code the labels: ``--labels`` specs, colour tables, and the coding worked out from the masks.

``infer_coding`` reads the masks and the user's ``--labels`` and returns a ``MaskCoding`` with a
description to print, so a coding is never guessed silently. Its rule for grey values (``code_values``)
is also the rule for 3D masks (``bundle new`` on volumes).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from medseg.errors import InputError
from medseg.io.masks import BINARY_THRESHOLD, SAMPLE, Colour, MaskCoding, pack_rgb, read_stored
from medseg.labels import VOID

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
    background: bool = True  # False: every annotated pixel is one of the labels (road scenes)
    values: list[int] | None = None  # the labels' values when not 1..N (no background: as the masks store them)


def infer_coding(masks: Sequence[Path], labels: Sequence[tuple[str, LabelSpec]],
                 ignore: int | None = None) -> InferredCoding:
    """How 2D masks code ``labels`` (label i+1 = labels[i]); every decision is described in ``lines``.

    ``ignore``: the stored value of unannotated pixels, read as ``VOID``."""
    counts: Counter = Counter()
    colour = False
    for path in list(masks)[:SAMPLE]:
        stored = read_stored(path)
        if stored.ndim == 3:
            colour = True
            keys, n = np.unique(pack_rgb(stored).ravel(), return_counts=True)
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
        if ignore is not None:
            raise InputError("--ignore takes a grey value; these masks are RGB colour-coded (recode the void colour "
                             "as a label or convert the masks to index masks)", masks[0])
        return _colour_coding(labels, found, share, lines, masks[0])
    return code_values(Counter({k: c for (_, k), c in counts.items()}), labels, sampled, masks[0], ignore=ignore)


def code_values(counts: Counter, labels: Sequence[tuple[str, LabelSpec]], sampled: int, where: Path,
                hint: str = "name each label's value: --labels NAME=VALUE ...", ignore: int | None = None
                ) -> InferredCoding:
    """The one rule, for 2D masks and volumes alike, by which the grey values masks hold (value → pixel
    count over ``sampled`` masks) code ``labels``, in this order: the values each label was given; values
    that already are the labels (1..N); one label in 8-bit masks (their maximum is 255): binary, thresholded
    at ``BINARY_THRESHOLD`` (resized edges carry the values between); N distinct values for N labels, in
    sorted order. Anything else is refused, with ``hint`` (what the user can say instead). ``ignore`` (the
    stored void value) is read as ``VOID`` and takes no part in those rules."""
    if ignore is not None:
        inferred = code_values(Counter({k: c for k, c in counts.items() if k != ignore}), labels, sampled, where,
                               hint)
        if inferred.coding.threshold is not None or inferred.coding.colours:
            raise InputError(f"--ignore {ignore}: give each label's value too (--labels NAME=VALUE)", where)
        values = inferred.coding.values or {i: i for i in range(1, len(labels) + 1)}
        total = sum(counts.values()) or 1
        inferred.lines.insert(0, f"void: {ignore} → not annotated ({100 * counts.get(ignore, 0) / total:.1f} % "
                                 "of pixels): no loss, no metric, never predicted")
        inferred.coding = MaskCoding(values={**values, ignore: VOID})
        return inferred
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
    if not rest and len(labels) > 1:  # every pixel is one of the labels: no background, values kept as stored
        values = [int(spec) for _, spec in labels]
        if max(values) >= VOID:
            raise InputError(f"label values must be below {VOID} when every pixel is a label", where)
        lines.append("coding: no background; values kept: " + ", ".join(f"{v} = {name}" for name, v in labels))
        return InferredCoding(MaskCoding(values={v: v for v in values}), lines, background=False, values=values)
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
    known = {pack_rgb(np.asarray(c)) for c in colours} | {0}
    unknown = [k for k in found if int(k) not in {int(x) for x in known}]
    if unknown:
        raise InputError(f"mask colours {[_unpack(k) for k in unknown[:6]]} are not named in --labels "
                         "(black is background)", where)
    lines.append("coding: " + ", ".join(f"{c} → {i} ({labels[i - 1][0]})" for c, i in colours.items())
                 + ", (0, 0, 0) → 0")
    return InferredCoding(MaskCoding(colours=colours), lines)


def _unpack(packed: int) -> Colour:
    return (packed >> 16) & 255, (packed >> 8) & 255, packed & 255
