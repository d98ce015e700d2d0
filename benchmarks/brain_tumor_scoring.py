"""Scoring shared by the brain_tumor benchmarks: every case under every sequence subset it can make.

A held-out case with all four sequences is segmented five times (FLAIR only, T1ce only, FLAIR+T1,
FLAIR+T1ce, all four) by leaving files out, exactly as a study that lacks them is read; a FLAIR+T1ce
case three times. Each label map is scored per BraTS region, with the predicted/true whole-tumour
volume ratio and its number of pieces (over-segmentation shows there before it shows in Dice).
"""

from __future__ import annotations

import math
import statistics
import warnings
from pathlib import Path

MODALITIES = ("t1", "t1ce", "t2", "flair")
REGIONS = ("WT", "TC", "ET")
SUBSETS = (("flair",), ("t1ce",), ("t1", "flair"), ("t1ce", "flair"), MODALITIES)


def subsets_of(present: list[str]) -> list[tuple[str, ...]]:
    """The bundle's supported subsets that a case with ``present`` sequences can make."""
    return [s for s in SUBSETS if set(s) <= set(present)]


def _regions(label):
    import numpy as np

    return {"WT": label > 0, "TC": np.isin(label, (1, 4)), "ET": label == 4}


def score_label(pred, truth, spacing) -> dict:
    """Dice per region, WT HD95 (mm), the predicted/true whole-tumour volume ratio and its pieces."""
    import numpy as np
    from scipy import ndimage

    from medseg.evaluation.metrics import structure_metrics

    p, t = _regions(pred), _regions(truth)
    scores = {r: structure_metrics(p[r], t[r], spacing) for r in REGIONS}
    row = {r: scores[r]["dice"] for r in REGIONS}
    row["WT_hd95"] = scores["WT"]["hd95_mm"]
    row["WT_ratio"] = float(p["WT"].sum()) / max(float(t["WT"].sum()), 1.0)
    row["WT_pieces"] = int(ndimage.label(p["WT"], np.ones((3, 3, 3)))[1])
    row["WT_true_pieces"] = int(ndimage.label(t["WT"], np.ones((3, 3, 3)))[1])
    return row


def manifest_cases(manifest: Path, section: str) -> tuple[list[dict], dict]:
    """``[{id, files: {modality: path}, label}]`` of a manifest section, and its label map."""
    from medseg.data.manifest import load_manifest

    loaded = load_manifest(manifest, modalities=list(MODALITIES))
    out = []
    for case in loaded.cases(section):
        present = [m for m in MODALITIES if m not in case.missing]
        out.append({"id": case.case_id, "files": dict(zip(present, case.images)), "label": case.label})
    return out, loaded.label_map


def read_truth(path: Path, label_map: dict):
    """The expert label map with the manifest's label values mapped as the importer maps them."""
    import nibabel as nib
    import numpy as np

    image = nib.load(path)
    data = np.asarray(image.dataobj).astype(np.int16)
    mapped = data.copy()
    for source, target in label_map.items():
        mapped[data == int(source)] = int(target)
    return mapped, image.header.get_zooms()[:3]


def score_medseg(manifest: Path, run_dir: Path, section: str = "test", inference: dict | None = None,
                 rules: dict[str, dict] | None = None) -> list[dict]:
    """Segment every case of ``section`` under each subset it can make with the run; score each.

    ``inference``: inference-config overrides for the run (e.g. another post-processing). ``rules``: name →
    ``PostProcessing`` arguments applied to each label map after the run's own; one row per rule, named in
    its ``rule`` key, so several piece rules are scored on one prediction.
    """
    import medseg
    from medseg.inference.postprocessing import PostProcessing
    from medseg.io.read import CaseFiles

    predictor = medseg.Predictor.from_bundle(run_dir, device="cpu", overrides=inference or None)
    steps = {name: PostProcessing(**rule) for name, rule in (rules or {}).items()}
    cases, label_map = manifest_cases(manifest, section)
    rows = []
    for case in cases:
        truth, spacing = read_truth(case["label"], label_map)
        full = "+".join(m for m in MODALITIES if m in case["files"])
        for subset in subsets_of(list(case["files"])):
            files = CaseFiles(case["id"], tuple(case["files"][m] for m in MODALITIES if m in subset),
                              missing=tuple(m for m in MODALITIES if m not in subset))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                label = predictor.predict(files).label
            row = {"case": case["id"], "subset": "+".join(subset), "full": "+".join(subset) == full}
            if not steps:
                rows.append({**row, **score_label(label, truth, spacing)})
            for name, step in steps.items():
                ruled = step.on_label(label, predictor.schema, float(math.prod(spacing)))
                rows.append({**row, "rule": name, **score_label(ruled, truth, spacing)})
    return rows


def score_plain(manifest: Path, weights: Path, section: str = "test") -> list[dict]:
    """The FLAIR-only textbook model (``brain_tumor_plain``) on every case of ``section`` with a FLAIR."""
    import brain_tumor_plain as plain
    import numpy as np

    cases, label_map = manifest_cases(manifest, section)
    rows = []
    for case in cases:
        if "flair" not in case["files"]:
            continue
        truth, spacing = read_truth(case["label"], label_map)
        wt = plain.predict_wt(str(case["files"]["flair"]), weights)
        row = score_label(np.asarray(wt, np.int16), truth, spacing)
        for region in ("TC", "ET"):
            row.pop(region)
        rows.append({"case": case["id"], "subset": "flair", "full": False, **row})
    return rows


def mean(values) -> float:
    """Mean of the finite values (NaN when there are none)."""
    values = [v for v in values if not (isinstance(v, float) and math.isnan(v))]
    return statistics.mean(values) if values else math.nan


def by_subset(rows: list[dict], plain_rows: list[dict] = ()) -> list[list]:
    """Table rows per subset: cases, mean WT/TC/ET, median volume ratio and pieces, and WT minus the
    plain model's WT on the same cases."""
    plain_wt = {r["case"]: r["WT"] for r in plain_rows}
    body = []
    for subset in dict.fromkeys(r["subset"] for r in rows):
        chosen = [r for r in rows if r["subset"] == subset]
        vs_plain = [r["WT"] - plain_wt[r["case"]] for r in chosen if r["case"] in plain_wt]
        body.append([subset, len(chosen), *[mean(r.get(k, math.nan) for r in chosen) for k in REGIONS],
                     statistics.median(r["WT_ratio"] for r in chosen),
                     statistics.median(r["WT_pieces"] for r in chosen), mean(vs_plain)])
    return body


BY_SUBSET_HEADER = ["subset", "n", "WT", "TC", "ET", "WT vol ratio (median)", "WT pieces (median)",
                    "WT - plain (same cases)"]
