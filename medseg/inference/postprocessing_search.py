"""Choose a run's post-processing on its own validation cases, as the BraTS winners do.

Candidates (the bundle's ``train.json`` ``postprocessing_search``): for the small-structure rule of
``medseg.inference.postprocessing`` (e.g. enhancing tumour pieces below N voxels, or an ET total below N voxels,
relabelled as necrosis or removed), every combination of ``min_voxels``, ``replace_with`` and
``per``. Each is applied to the run's predictions of its validation cases (the label maps its
current post-processing gives) and scored by the mean Dice over the schema's regions (labels when
it has none). A rule is kept only when it beats no rule; the choice and every candidate's score are
written into the run's ``configs/inference.json`` (``postprocessing#small_components`` and
``postprocessing_choice``), the run is resealed, and its README says what was chosen. With the chosen
rule applied, each validation case's predicted/true volume and pieces per structure are recorded beside
it (``postprocessing_choice.sizes``, a table in the README): over-segmentation shows there first.
"""

from __future__ import annotations

import itertools
import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from medseg.bundle.find import Bundle
from medseg.bundle.provenance import DATA_RECORD, append_to_run_readme
from medseg.bundle.trust import is_trusted, seal
from medseg.data.manifest import load_manifest
from medseg.evaluation.reading import read_label
from medseg.evaluation.scoring import score_case
from medseg.inference.postprocessing import PostProcessing
from medseg.inference.predictor import Predictor
from medseg.io.atomic import write_text_atomic
from medseg.labels import LabelSchema
from medseg.outputs.plausibility import count_components


def candidate_rules(search: dict[str, Any]) -> list[dict[str, Any]]:
    """Every rule the search declares (lists expand; scalars are fixed)."""
    def as_list(value: Any) -> list:
        return list(value) if isinstance(value, list | tuple) else [value]

    return [{"structure": search["structure"], "min_voxels": int(n), "replace_with": int(r), "per": per}
            for n, r, per in itertools.product(as_list(search["min_voxels"]), as_list(search.get("replace_with", 1)),
                                               as_list(search.get("per", "component"))) if int(n) > 0]


def objective(pred: np.ndarray, truth: np.ndarray, schema: LabelSchema) -> float:
    """Mean Dice over the regions (BraTS WT/TC/ET), or over the labels for an exclusive schema."""
    scores = score_case(pred, truth, schema)
    names = [r.name for r in schema.regions] or [label.name for label in schema.labels]
    return float(np.mean([scores[name] for name in names]))


def choose(predictions: list[tuple[np.ndarray, np.ndarray]], schema: LabelSchema,
           rules: list[dict[str, Any]]) -> dict[str, Any]:
    """Score no rule and every rule on (predicted label, truth) pairs; the best rule, if any beats none."""
    def score(rule: dict[str, Any] | None) -> float:
        post = PostProcessing(small_components=[rule] if rule else [])
        return float(np.mean([objective(post.on_label(pred, schema, 1.0), truth, schema)
                              for pred, truth in predictions]))

    baseline = score(None)
    scored = [{**rule, "dice": round(score(rule), 5)} for rule in rules]
    best = max(scored, key=lambda r: r["dice"], default=None)
    chosen = best if best is not None and best["dice"] > baseline else None
    return {"cases": len(predictions), "baseline_dice": round(baseline, 5), "candidates": scored,
            "chosen": {k: v for k, v in chosen.items() if k != "dice"} if chosen else None}


def size_figures(pairs: list[tuple[np.ndarray, np.ndarray]], case_ids: list[str], schema: LabelSchema,
                 rule: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Per validation case and structure (regions, else labels): predicted and true voxels, their
    ratio and pieces, after ``rule``."""
    post = PostProcessing(small_components=[rule] if rule else [])
    structures = ({r.name: tuple(r.values) for r in schema.regions}
                  or {label.name: (label.value,) for label in schema.labels})
    rows = []
    for case_id, (pred, truth) in zip(case_ids, pairs):
        pred = post.on_label(pred, schema, 1.0)
        for name, values in structures.items():
            p, t = np.isin(pred, values), np.isin(truth, values)
            rows.append({"case": case_id, "structure": name, "predicted_voxels": int(p.sum()),
                         "true_voxels": int(t.sum()), "volume_ratio": round(float(p.sum()) / max(int(t.sum()), 1), 3),
                         "pieces": count_components(p), "true_pieces": count_components(t)})
    return rows


def _sizes_table(sizes: list[dict[str, Any]]) -> str:
    lines = ["| case | structure | predicted / true volume | pieces (true) |", "|---|---|---|---|"]
    lines += [f"| {r['case']} | {r['structure']} | {r['volume_ratio']:.2f} ({r['predicted_voxels']} / "
              f"{r['true_voxels']} voxels) | {r['pieces']} ({r['true_pieces']}) |" for r in sizes]
    return "\n".join(lines)


def validation_predictions(run_dir: Path, device: str = "cpu", trust: bool = False,
                           overrides: dict[str, Any] | None = None,
                           ) -> tuple[list[tuple[np.ndarray, np.ndarray]], list[str]]:
    """The run's label maps (its post-processing, ``overrides`` applied) and the truths of its
    validation cases (``training_data.json``)."""
    record = json.loads((run_dir / DATA_RECORD).read_text())
    predictor = Predictor.from_bundle(run_dir, device=device, overrides=overrides, trust=trust)
    manifest = load_manifest(record["manifest"], modalities=predictor.modalities)
    wanted = set(record["validation"])
    cases = [c for c in manifest.all_cases() if c.case_id in wanted and c.label is not None]
    pairs = []
    for case in cases:
        with warnings.catch_warnings():  # missing-sequence and plausibility lines are for users, not this search
            warnings.simplefilter("ignore")
            label = predictor.predict(case).label
        pairs.append((label, read_label(Path(case.label), predictor.schema, manifest.label_map).label))
    return pairs, [c.case_id for c in cases]


def choose_postprocessing(run_dir: str | Path, device: str = "cpu", trust: bool = False) -> dict[str, Any] | None:
    """Choose and record the run's post-processing; ``None`` when its bundle declares no search or
    it has no validation cases.

    A run chosen for before (a resumed run) is chosen for again from the rules the search did not
    write, so the new choice replaces the old one instead of being scored on top of it, and a rule
    the user wrote stays. ``trust``: the run may be one the user trusted once (``--trust``); it is
    resealed only when it was sealed before this edit, so a one-time trust stays one-time.
    """
    run_dir = Path(run_dir)
    bundle = Bundle(run_dir.resolve())
    search = bundle.parser("inference", "train", trust=trust).get("postprocessing_search")
    if not search:
        return None
    path = bundle.config_files("inference")[0]
    config = json.loads(path.read_text())
    earlier = (config.get("postprocessing_choice") or {}).get("chosen")
    kept = [rule for rule in config["postprocessing"]["small_components"] if rule != earlier]
    pairs, case_ids = validation_predictions(run_dir, device, trust,
                                             overrides={"postprocessing#small_components": kept})
    if not pairs:
        return None
    result = {**choose(pairs, bundle.schema, candidate_rules(search)), "validation_cases": case_ids}
    result["sizes"] = size_figures(pairs, case_ids, bundle.schema, result["chosen"])
    was_sealed = is_trusted(run_dir)
    config["postprocessing"]["small_components"] = kept + ([result["chosen"]] if result["chosen"] else [])
    config["postprocessing_choice"] = result
    write_text_atomic(path, json.dumps(config, indent=2) + "\n")
    if was_sealed:
        seal(run_dir)  # medseg changed its own run's config
    rule = result["chosen"]
    what = (f"{rule['structure']} {'pieces' if rule['per'] == 'component' else 'in total'} below "
            f"{rule['min_voxels']} voxels → label {rule['replace_with']}" if rule else "none (no rule beat no rule)")
    append_to_run_readme(run_dir, f"## Post-processing (chosen on this run's validation cases)\n"
                                  f"Rule: {what}. Mean region Dice on {len(pairs)} validation case(s): "
                                  f"{result['baseline_dice']:.4f} without a rule"
                                  + (f", {max(c['dice'] for c in result['candidates']):.4f} with it." if rule else ".")
                                  + " Every candidate's score: `configs/inference.json` `postprocessing_choice`."
                                  + "\n\nPredicted against true size on the validation cases, with this rule:\n\n"
                                  + _sizes_table(result["sizes"]))
    return result
