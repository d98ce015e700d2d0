"""Score a folder of predictions against their ground truth, per label and per region (e.g. BraTS WT/TC/ET).

Per structure: Dice, surface Dice (at a tolerance in mm), HD95 in mm, sensitivity and precision
(``medseg.evaluation.metrics``, MONAI underneath, spacing from the NIfTI header). Empty-vs-empty rules are
stated in ``medseg.evaluation.metrics``: a structure absent from both prediction and truth scores Dice 1.0;
absent from one only, 0.0.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from medseg.bundle.find import Bundle
from medseg.errors import InputError
from medseg.evaluation.pairing import pair_predictions
from medseg.evaluation.reading import (
    on_prediction_grid,
    read_label,
    read_prediction,
    read_structures,
    recorded_sequences,
    spacing_of,
)
from medseg.evaluation.results import Evaluation
from medseg.evaluation.scoring import overlaps, side_metrics, structures
from medseg.evaluation.truths import read_truths
from medseg.io.masks import MaskCoding
from medseg.io.read import AFFINE_TOLERANCE
from medseg.labels import LabelSchema


def evaluate_predictions(
    pred_dir: str | Path, truth: str | Path, schema: LabelSchema | Bundle, modalities: list[str] = (),
    tolerance_mm: float = 2.0, mask_coding: MaskCoding | None = None, cases: list[str] | None = None,
    allow_missing: bool = False,
) -> Evaluation:
    """Score every prediction in ``pred_dir`` against its ground truth: a manifest, or a folder read as the
    importers read datasets (``medseg.evaluation.truths``: layouts, label names mapped, case ids).

    ``schema``: a bundle (``medseg.find_bundle``: its schema, modalities and mask coding) or a label
    schema. Predictions and truths may be NIfTI or PNG/JPEG/TIFF; a bitmap truth is read as training
    read it, through ``mask_coding``, else the manifest's, else the bundle's (``membrane=0``, RGB, {0,255}),
    else the label map of the manifest or of the folder's layout (BraTS, MSD, nnU-Net label names), and
    resized onto the prediction's grid when stored smaller. Distances are in mm when the prediction has a
    NIfTI header (X-rays too), else in pixels. Pixels the truth marks void (``schema.void``) count in no
    metric; pooled IoU and Dice sum each structure's intersections and unions over all cases
    (``Evaluation.pooled``).
    ``cases`` / ``allow_missing``: score a subset (see ``pair_predictions``).
    """
    bundle = schema if isinstance(schema, Bundle) else None
    if bundle is not None:
        modalities, schema = modalities or bundle.modalities, bundle.schema
    truths = read_truths(Path(truth), bundle or schema, list(modalities))
    # a coding as stored in the manifest or the bundle's metadata (how `bundle new` found the user's masks)
    stored = truths.mask_coding or (bundle.metadata.get("medseg", {}).get("mask_coding") if bundle else None)
    if mask_coding is None and stored:
        mask_coding = MaskCoding.from_json(stored)
    label_map = truths.label_map
    pairs = pair_predictions(Path(pred_dir), truths, cases, allow_missing)
    rows: list[dict[str, float | str]] = []
    units = "mm"
    pooled: dict[str, list[int]] = {name: [0, 0, 0] for name, _ in structures(schema)}
    for case, pred_path, truth_path in pairs:
        pred = read_prediction(case, pred_path, schema)
        if isinstance(truth_path, tuple):
            truth_side = read_structures(truth_path, schema)
        else:
            coding = mask_coding if mask_coding is not None and not label_map else None
            truth_side = read_label(truth_path, schema, label_map, coding)
        truth_side = on_prediction_grid(truth_side, pred.label.shape,
                                        truth_path[0] if isinstance(truth_path, tuple) else truth_path, pred_path)
        if pred.image is not None and truth_side.image is not None and not np.allclose(
                pred.image.affine, truth_side.image.affine, atol=AFFINE_TOLERANCE):
            raise InputError("prediction affine differs from the truth's (not on the same grid)", pred_path)
        grid = truth_side.image if truth_side.image is not None else pred.image
        if grid is None:
            spacing, units = (1.0,) * pred.label.ndim, "px"
        else:
            spacing = spacing_of(grid, pred.label.shape)
        rows.append({"case": case, "truth": str(Path(truth).resolve()), **recorded_sequences(pred_path.parent, case),
                     **side_metrics(pred, truth_side, schema, spacing, tolerance_mm)})
        for name, counts in overlaps(pred, truth_side, schema).items():
            pooled[name] = [a + b for a, b in zip(pooled[name], counts)]
    inputs = [p for _, pred_path, truth_path in pairs
              for p in (pred_path, *(truth_path if isinstance(truth_path, tuple) else (truth_path,)))]
    return Evaluation(rows, [name for name, _ in structures(schema)],
                      [*inputs, *([Path(truth)] if Path(truth).is_file() else [])], tolerance_mm, units,
                      {name: tuple(counts) for name, counts in pooled.items()})
