"""Scores of one case: every metric of every structure (each label and each region the schema declares)."""

from __future__ import annotations

import numpy as np

from medseg.evaluation.metrics import METRICS, dice, structure_metrics, union_box
from medseg.evaluation.reading import Side
from medseg.labels import LabelSchema


def score_case(pred: np.ndarray, truth: np.ndarray, schema: LabelSchema) -> dict[str, float]:
    """Dice of every structure the schema declares (``structures``)."""
    return {name: dice(np.isin(pred, values), np.isin(truth, values)) for name, values in structures(schema)}


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
    box = union_box(pred, truth)
    pred, truth = pred[box], truth[box]
    row: dict[str, float] = {}
    for name, values in structures(schema):
        scores = structure_metrics(np.isin(pred, values), np.isin(truth, values), spacing, tolerance_mm)
        row[name] = scores["dice"]
        row.update({f"{name}/{metric}": scores[metric] for metric in METRICS[1:]})
    return row


def side_metrics(pred: Side, truth: Side, schema: LabelSchema, spacing: tuple[float, ...],
                 tolerance_mm: float = 2.0) -> dict[str, float]:
    """``case_metrics`` on two sides, using per-structure masks where they were stored apart.

    As there, everything is computed inside the bounding box of both sides' structures.
    """
    stored = [side.channels for side in (pred, truth) if side.channels is not None]
    box = union_box(pred.label, truth.label, *(np.any(c, axis=0) for c in stored))
    pred, truth = pred.crop(box), truth.crop(box)
    row: dict[str, float] = {}
    for name, values in structures(schema):
        scores = structure_metrics(pred.structure(schema, name, values), truth.structure(schema, name, values),
                                   spacing, tolerance_mm)
        row[name] = scores["dice"]
        row.update({f"{name}/{metric}": scores[metric] for metric in METRICS[1:]})
    return row
