"""Post-processing declared per bundle (``inference.json`` ``postprocessing``), applied on the input grid.

* ``region_hierarchy`` (overlapping schemas): a region nested in another (BraTS ET ⊂ TC ⊂ WT, by
  their label values) cannot be more probable than its parent: ``p_child = min(p_child, p_parent)``,
  applied parents first, so the thresholded regions are nested and the painted label map is
  consistent.
* ``largest_component``: structure names (labels or regions) that must be one connected piece;
  other pieces are set to background (26-connectivity).
* ``min_share_of_largest``: structure name → share of its largest piece: smaller pieces are set to
  background, pieces about as large as the largest are kept. A false piece of the tumour's size then
  costs some Dice instead of the whole tumour (``largest_component`` may keep the false one), and a
  second true focus survives.
* ``min_island_mm3``: connected pieces of the foreground smaller than this volume (mm², for 2D) are
  set to background; sizes use the voxel size of the input.
* ``min_piece``: structure name → area (mm², 2D) or volume (mm³): its connected pieces smaller than that are
  removed: set to background, or, in a schema without one (road scenes), to the label around them.
  ``bundle new`` declares it from the training masks (``medseg.planning.pieces``).
* ``small_components``: rules ``{"structure", "min_voxels", "replace_with", "per"}``: pieces of a
  structure smaller than ``min_voxels`` (``per: "component"``), or the whole structure when its
  total is smaller (``per: "total"``, the BraTS winners' rule for enhancing tumour), get the label
  ``replace_with`` (1: relabel small ET as necrosis; 0: remove). ``postprocessing_search`` picks the
  rule on a run's validation cases and writes it here.

The rules act on the label map (``on_label``), which then feeds every output; structures a label map
cannot hold (overlapping single-label channels: a clavicle over a lung) get the same rules mask by
mask (``on_masks``). ``LargestComponents`` is the bundle's own mask-level step for such structures
(chest X-rays): each structure's largest piece, holes filled.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from medseg.errors import BundleError
from medseg.labels import LabelSchema


def enforce_region_hierarchy(probabilities: np.ndarray, schema: LabelSchema, in_place: bool = False) -> np.ndarray:
    """Cap each overlapping channel by every channel whose label values strictly contain its own.

    ``in_place`` saves copying the array (100 MB for a BraTS case) when the caller owns it.
    """
    out = probabilities if in_place else np.array(probabilities, copy=True)
    order = sorted(range(len(schema.channels)), key=lambda i: -len(schema.channels[i].values))
    for child in order:
        for parent in order:
            child_values, parent_values = set(schema.channels[child].values), set(schema.channels[parent].values)
            if child_values < parent_values:
                np.minimum(out[child], out[parent], out=out[child])
    return out


def _components(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Connected-component ids (26/8-connectivity) and the size of each id (index 0 unused)."""
    from scipy import ndimage

    ids, count = ndimage.label(mask, structure=np.ones((3,) * mask.ndim, bool))
    return ids, np.bincount(ids.ravel(), minlength=count + 1)


def keep_largest_component(label: np.ndarray, values: Sequence[int]) -> np.ndarray:
    """Set every piece of ``isin(label, values)`` except the largest to background."""
    mask = np.isin(label, values)
    ids, sizes = _components(mask)
    if len(sizes) <= 2:
        return label
    sizes[0] = 0
    out = label.copy()
    out[mask & (ids != int(sizes.argmax()))] = 0
    return out


def _drop_pieces(label: np.ndarray, ids: np.ndarray, sizes: np.ndarray, below: float) -> np.ndarray:
    """``label`` with the pieces (``ids``, sizes ``sizes``) smaller than ``below`` voxels set to background."""
    small = np.flatnonzero(sizes < below)
    small = small[small > 0]
    if not len(small):
        return label
    out = label.copy()
    out[np.isin(ids, small)] = 0
    return out


def keep_large_pieces(label: np.ndarray, values: Sequence[int], share: float) -> np.ndarray:
    """Set every piece of ``isin(label, values)`` smaller than ``share`` × its largest piece to background."""
    ids, sizes = _components(np.isin(label, values))
    return label if len(sizes) <= 2 else _drop_pieces(label, ids, sizes, share * sizes[1:].max())


def remove_small_islands(label: np.ndarray, min_voxels: float) -> np.ndarray:
    """Set connected pieces of the foreground (all labels together) smaller than ``min_voxels`` to background.

    Pieces are taken over the whole foreground, not per label, so a small label nested inside a
    larger structure (enhancing tumour inside oedema) is kept rather than punched out.
    """
    return _drop_pieces(label, *_components(label > 0), min_voxels)


def remove_small_pieces(label: np.ndarray, minimum: dict[int, float], background: bool = True) -> np.ndarray:
    """Pieces of each label value below its own ``minimum`` (voxels) → background, or, with no background
    (every pixel is some class), the nearest label outside the removed pieces."""
    small = np.zeros(label.shape, bool)
    for value, voxels in minimum.items():
        ids, sizes = _components(label == value)
        tiny = np.flatnonzero(sizes < voxels)
        if len(tiny[tiny > 0]):
            small |= np.isin(ids, tiny[tiny > 0])
    if not small.any() or small.all():
        return label
    if background:
        out = label.copy()
        out[small] = 0
        return out
    from scipy import ndimage

    nearest = ndimage.distance_transform_edt(small, return_distances=False, return_indices=True)
    return label[tuple(nearest)]


def relabel_small(label: np.ndarray, values: Sequence[int], min_voxels: int, replace_with: int,
                  per: str = "component") -> np.ndarray:
    """Pieces of ``isin(label, values)`` below ``min_voxels`` (or all of it, ``per="total"``) → ``replace_with``."""
    mask = np.isin(label, values)
    if per == "total":
        small = mask if 0 < mask.sum() < min_voxels else np.zeros_like(mask)
    elif per == "component":
        ids, sizes = _components(mask)
        tiny = np.flatnonzero(sizes < min_voxels)
        small = np.isin(ids, tiny[tiny > 0])
    else:
        raise BundleError(f"postprocessing: small_components 'per' must be 'component' or 'total', not {per!r}")
    if not small.any():
        return label
    out = label.copy()
    out[small] = replace_with
    return out


class PostProcessing:
    """The bundle's post-processing steps; ``Predictor`` calls the two hooks."""

    def __init__(self, region_hierarchy: bool = False, largest_component: Sequence[str] = (),
                 min_island_mm3: float = 0.0, small_components: Sequence[dict] = (),
                 min_piece: dict[str, float] | None = None,
                 min_share_of_largest: dict[str, float] | None = None) -> None:
        self.region_hierarchy = region_hierarchy
        self.largest_component = tuple(largest_component)
        self.min_share_of_largest = {name: float(share) for name, share in (min_share_of_largest or {}).items()}
        for name, share in self.min_share_of_largest.items():
            if not 0.0 < share <= 1.0:
                raise BundleError(f"postprocessing: min_share_of_largest of {name!r} must be in (0, 1], not {share}")
        self.min_island_mm3 = float(min_island_mm3)
        self.small_components = [dict(rule) for rule in small_components]
        self.min_piece = dict(min_piece or {})

    def on_probabilities(self, probabilities: np.ndarray, schema: LabelSchema) -> np.ndarray:
        """In place: the Predictor's own array (C, *spatial), on the input grid."""
        if self.region_hierarchy and schema.mode == "overlapping":
            return enforce_region_hierarchy(probabilities, schema, in_place=True)
        return probabilities

    def on_label(self, label: np.ndarray, schema: LabelSchema, voxel_size: float) -> np.ndarray:
        """``voxel_size``: mm³ (3D) or mm² (2D) of one voxel of the input grid."""
        structures = {item.name: (item.value,) for item in schema.labels}
        structures.update({region.name: region.values for region in schema.regions})
        for name in self.largest_component:
            label = keep_largest_component(label, _known(structures, name))
        for name, share in self.min_share_of_largest.items():
            label = keep_large_pieces(label, _known(structures, name), share)
        if self.min_island_mm3 > 0:
            label = remove_small_islands(label, self.min_island_mm3 / voxel_size)
        if self.min_piece:
            minimum = {_known(structures, name)[0]: size / voxel_size for name, size in self.min_piece.items()}
            label = remove_small_pieces(label, minimum, schema.background)
        for rule in self.small_components:
            label = relabel_small(label, _known(structures, rule["structure"]), int(rule["min_voxels"]),
                                  int(rule["replace_with"]), rule.get("per", "component"))
        return label

    def on_masks(self, masks: np.ndarray, schema: LabelSchema, voxel_size: float) -> np.ndarray:
        """The same rules on structures a label map cannot hold (``schema.label_per_channel``: a clavicle over
        a lung), mask by mask (C, *spatial): a structure's pieces are its own mask's, islands are pieces of
        all structures together, and a relabelled piece moves to the mask of the label it takes."""
        out = np.array(masks, dtype=bool, copy=True)
        by_paint = {c.paint: i for i, c in enumerate(schema.channels)}
        index = {c.name: (i,) for i, c in enumerate(schema.channels)}
        index.update({item.name: (by_paint[item.value],) for item in schema.labels if item.value in by_paint})
        for name in self.largest_component:
            (i,) = _known(index, name)
            out[i] = keep_largest_component(out[i].astype(np.uint8), (1,)) > 0
        for name, share in self.min_share_of_largest.items():
            (i,) = _known(index, name)
            out[i] = keep_large_pieces(out[i].astype(np.uint8), (1,), share) > 0
        if self.min_island_mm3 > 0:
            out &= remove_small_islands(out.any(0).astype(np.uint8), self.min_island_mm3 / voxel_size) > 0
        for rule in self.small_components:
            (i,) = _known(index, rule["structure"])
            kept = relabel_small(out[i].astype(np.uint8), (1,), int(rule["min_voxels"]), 0,
                                 rule.get("per", "component")) > 0
            moved, out[i] = out[i] & ~kept, kept
            if int(rule["replace_with"]):
                if int(rule["replace_with"]) not in by_paint:
                    raise BundleError(f"postprocessing: replace_with {rule['replace_with']} is not a structure's "
                                      f"label (known: {sorted(by_paint)})")
                out[by_paint[int(rule["replace_with"])]] |= moved
        return out


def _known(structures: dict[str, tuple[int, ...]], name: str) -> tuple[int, ...]:
    if name not in structures:
        raise BundleError(f"postprocessing: unknown structure {name!r} (known: {sorted(structures)})")
    return structures[name]


class LargestComponents:
    """Keep each structure's largest connected component and fill its holes (masks ``(C, *spatial)``).

    Every SCR structure is one connected region; stray islands and pin-holes are network noise.
    """

    def __call__(self, masks: np.ndarray) -> np.ndarray:
        from scipy import ndimage

        out = np.zeros_like(masks, dtype=bool)
        for c, mask in enumerate(np.asarray(masks, dtype=bool)):
            labels, count = ndimage.label(mask)
            if count == 0:
                continue
            sizes = np.bincount(labels.ravel())[1:]
            out[c] = ndimage.binary_fill_holes(labels == int(np.argmax(sizes)) + 1)
        return out
