"""Which prediction goes with which truth: files paired by case id, unpaired cases said or refused."""

from __future__ import annotations

from pathlib import Path

from medseg.errors import InputError, warn
from medseg.evaluation.truths import Label, Truths, is_label_file, label_case_id
from medseg.io.caseid import check_unique_ids


def _labelled(files: list[Path]) -> list[Path]:
    tagged = [p for p in files if any(f"{sep}{tag}." in p.name.lower() for sep in "_-" for tag in ("seg", "label"))]
    return tagged or files


def pair_predictions(pred_dir: Path, truth: Truths, cases: list[str] | None = None,
                     allow_missing: bool = False) -> list[tuple[str, Path, Label]]:
    """Pair ``<case>_seg.nii.gz`` / ``<case>_seg.png`` predictions with ``truth`` (``read_truths``) by case id;
    unpaired are errors.

    ``cases``: score only these ids. ``allow_missing``: skip cases that lack a prediction or a
    truth (one warning says how many) instead of refusing, e.g. to score a run still in progress.
    """
    if not pred_dir.is_dir():
        raise InputError("prediction folder not found", pred_dir)
    files = [p for p in sorted(pred_dir.iterdir()) if p.is_file() and is_label_file(p)]
    named = [(label_case_id(p), p) for p in _labelled(files)]  # not <case>_probabilities.nii.gz
    check_unique_ids(named, pred_dir)  # case.nii.gz and case.png
    preds = dict(named)
    if not preds:
        raise InputError("no predicted label files (*.nii.gz, *.png, *.tif) found", pred_dir)
    truths, need_all = dict(truth.labels), truth.complete
    if cases is not None:
        unknown = sorted(set(cases) - set(preds) - set(truths))
        if unknown:
            raise InputError(f"--cases names case(s) {unknown} found in neither the predictions nor the truth",
                             pred_dir)
        preds = {k: v for k, v in preds.items() if k in cases}
        truths = {k: v for k, v in truths.items() if k in cases}
        need_all = True
    missing_truth = sorted(set(preds) - set(truths))
    missing_pred = sorted(set(truths) - set(preds)) if need_all else []
    if allow_missing and (missing_truth or missing_pred):
        warn(f"{len(missing_pred)} case(s) without a prediction and {len(missing_truth)} without a truth are "
             "not scored (--allow-missing)", pred_dir)
    elif missing_truth:
        raise InputError(f"no ground truth for predicted case(s) {missing_truth} (--allow-missing skips them)", truth)
    elif missing_pred:
        raise InputError(f"no prediction for ground-truth case(s) {missing_pred} (--cases or --allow-missing "
                         "scores a subset)", pred_dir)
    paired = sorted(set(preds) & set(truths))
    if not paired:
        raise InputError("no case has both a prediction and a truth", pred_dir)
    return [(case, preds[case], truths[case]) for case in paired]
