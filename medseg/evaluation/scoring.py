"""Scores of one case: every metric of every structure (each label and each region the schema declares)."""

from __future__ import annotations

import numpy as np

from medseg.evaluation.metrics import METRICS, dice, structure_metrics, union_box
from medseg.evaluation.reading import Side
from medseg.labels import LabelSchema


def score_case(pred: np.ndarray, truth: np.ndarray, schema: LabelSchema) -> dict[str, float]:
    """Dice for every label value and every region the schema declares (the truth's void pixels left out)."""
    return {name: dice(p, t) for name, (p, t) in _structure_masks(Side(pred), Side(truth), schema).items()}


def structures(schema: LabelSchema) -> list[tuple[str, tuple[int, ...]]]:
    """What is scored: each label, then each region. Channels that are one label each (chest X-ray) are
    those labels, so each is scored once, under its channel's name (its files' and mask folders' name)."""
    if schema.label_per_channel:
        return [(channel.name, channel.values) for channel in schema.channels]
    return [(label.name, (label.value,)) for label in schema.labels] + [(r.name, r.values) for r in schema.regions]


def case_metrics(
    pred: np.ndarray, truth: np.ndarray, schema: LabelSchema, spacing: tuple[float, ...], tolerance_mm: float = 2.0
) -> dict[str, float]:
    """Every metric for every structure: ``<name>`` is Dice, ``<name>/<metric>`` the others.

    Everything is computed inside the bounding box of both maps' structures (``union_box``), where
    the metrics equal the whole grid's: a tumour fills a few percent of a brain volume.
    """
    if schema.background:  # without one, 0 is a class: every pixel counts
        box = union_box(pred, truth)
        pred, truth = pred[box], truth[box]
    row: dict[str, float] = {}
    for name, (p, t) in _structure_masks(Side(pred), Side(truth), schema).items():
        scores = structure_metrics(p, t, spacing, tolerance_mm)
        row[name] = scores["dice"]
        row.update({f"{name}/{metric}": scores[metric] for metric in METRICS[1:]})
    return row


def side_metrics(pred: Side, truth: Side, schema: LabelSchema, spacing: tuple[float, ...],
                 tolerance_mm: float = 2.0) -> dict[str, float]:
    """``case_metrics`` on two sides, using per-structure masks where they were stored apart; void pixels
    of the truth (``schema.void``) are left out of both sides.

    As there, everything is computed inside the bounding box of both sides' structures.
    """
    if schema.background:  # without one, 0 is a class: every pixel counts
        stored = [side.channels for side in (pred, truth) if side.channels is not None]
        box = union_box(pred.label, truth.label, *(np.any(c, axis=0) for c in stored))
        pred, truth = pred.crop(box), truth.crop(box)
    row: dict[str, float] = {}
    for name, (p, t) in _structure_masks(pred, truth, schema).items():
        scores = structure_metrics(p, t, spacing, tolerance_mm)
        row[name] = scores["dice"]
        row.update({f"{name}/{metric}": scores[metric] for metric in METRICS[1:]})
    return row


def _structure_masks(pred: Side, truth: Side, schema: LabelSchema) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Each structure's (prediction, truth) masks, both without the truth's void pixels."""
    annotated = schema.annotated(truth.label)
    out = {}
    for name, values in structures(schema):
        p, t = pred.structure(schema, name, values), truth.structure(schema, name, values)
        out[name] = (p, t) if annotated is None else (p & annotated, t & annotated)
    return out


def overlaps(pred: Side, truth: Side, schema: LabelSchema) -> dict[str, tuple[int, int, int]]:
    """Per structure (intersection, predicted, true) pixel counts, void left out: what pooled IoU and Dice
    sum over a dataset (``Evaluation.pooled``)."""
    return {name: (int(np.count_nonzero(p & t)), int(np.count_nonzero(p)), int(np.count_nonzero(t)))
            for name, (p, t) in _structure_masks(pred, truth, schema).items()}
