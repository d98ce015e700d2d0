"""Cross-validated brain_tumor recipe variants on the real cases, scored per sequence subset.

Settings of the brain_tumor recipe are decided here, on folds of the training cases, never on test
cases. The cases (``--train-dir``, default the eight real studies in ``../shared/data``) are split into
``--folds`` folds stratified by sequence subset (seeded); for each fold and each recipe variant,
medseg trains on the other folds' cases for ``--minutes`` of budget, then segments every held-out
case under every sequence subset it can make by leaving files out (FLAIR only, T1ce only, FLAIR+T1,
FLAIR+T1ce, all four), exactly as a study that lacks them would be read. The textbook plain MONAI
reference (``brain_tumor_plain``: FLAIR alone → whole tumour) trains on the same folds for the same
budget and is scored on the same cases.

    python benchmarks/brain_tumor_cv.py --variants planned,short --folds 0,1 --minutes 10 --clock cpu

``--clock cpu`` budgets each run by its own process CPU time, so a screening run's figures do not
depend on what else the machine runs (its wall time does); confirm survivors with the default
``--clock wall`` on a quiet machine. Every (variant, fold) result is kept as JSON under
``--run-dir`` and reused by later calls, so variants can be added one call at a time.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

sys.path.insert(0, str(Path(__file__).resolve().parent))
from brain_tumor_accuracy import SHARED, _imported, clock_overrides  # noqa: E402
from brain_tumor_scoring import BY_SUBSET_HEADER, MODALITIES, by_subset, score_medseg, score_plain  # noqa: E402
from common import REPO, run_worker, table  # noqa: E402

# Recipe variants: config overrides on top of the plan medseg makes for the fold's data (``{}``: the plan).
# A variant ``{"_from": NAME, "_inference": {...}}`` trains nothing: it scores NAME's runs with inference overrides;
# ``"_rules": {rule: PostProcessing arguments}`` adds piece rules scored on the same predictions (rows ``NAME/rule``).
VARIANTS: dict[str, dict] = {
    "planned": {},
}


def load_variants(path: Path | None) -> dict[str, dict]:
    """The built-in variants, plus those of a JSON file ``{name: {override: value}}``."""
    variants = dict(VARIANTS)
    if path is not None:
        variants.update(json.loads(Path(path).read_text()))
    return variants


# -- folds -----------------------------------------------------------------------------------------
def cases_by_fold(train_dirs: list[Path], folds: int, seed: int) -> tuple[list[list], object]:
    """Cases dealt into ``folds`` folds, each sequence subset spread over the folds in turn (seeded)."""
    parts = [_imported(d) for d in train_dirs]
    cases = sorted((c for part in parts for c in part.cases), key=lambda c: c.case_id)
    groups: dict[tuple, list] = {}
    for case in cases:
        groups.setdefault(tuple(case.missing), []).append(case)
    rng = random.Random(seed)
    dealt: list[list] = [[] for _ in range(folds)]
    position = 0
    for key in sorted(groups):
        group = groups[key]
        rng.shuffle(group)
        for case in group:
            dealt[position % folds].append(case)
            position += 1
    return dealt, parts[0]


def write_fold_manifest(dealt: list[list], part, fold: int, root: Path, out: Path) -> Path:
    from medseg.bundle.find import find_bundle
    from medseg.data.importers import Imported, write_imported

    training = [c for f, cases in enumerate(dealt) if f != fold for c in cases]
    imported = Imported(training, dealt[fold], part.label_names, variant=part.variant)
    return write_imported(imported, find_bundle("brain_tumor"), out, root, folds=5, seed=0)


# -- workers ---------------------------------------------------------------------------------------
def worker(args) -> dict:
    import torch

    torch.set_num_threads(1)
    start, cpu = time.perf_counter(), time.process_time()
    out = args.out
    if args.worker == "plain":
        import brain_tumor_plain as plain

        from medseg.data.manifest import load_manifest

        loaded = load_manifest(args.manifest, modalities=list(MODALITIES))
        cases = [{"image": str(c.images[[m for m in MODALITIES if m not in c.missing].index("flair")]),
                  "label": str(c.label)} for c in loaded.cases("training")]
        log = plain.train(cases, args.minutes, out, seed=args.seed,
                          clock=time.process_time if args.clock == "cpu" else time.perf_counter)
        rows = score_plain(args.manifest, out / "plain_unet.pt")
        result = {"log": log, "rows": rows}
    elif args.trained_run:  # an inference-time variant of a trained variant: score its run again
        result = {"rows": score_medseg(args.manifest, args.trained_run, inference=json.loads(args.overrides),
                                       rules=json.loads(args.rules) or None)}
    else:
        import medseg

        overrides = {"seed": args.seed, **json.loads(args.overrides), **clock_overrides(args.clock)}
        train = medseg.train("brain_tumor", data=args.manifest, output_dir=out, device="cpu", overrides=overrides,
                             progress=False, time_limit=args.minutes)
        history = train.history
        result = {"best_metric": train.best_metric, "best_epoch": train.best_epoch, "epochs": len(history),
                  "patches": sum(int(r.get("patches", 0)) for r in history), "rows": score_medseg(args.manifest, out)}
    result["wall_minutes"] = round((time.perf_counter() - start) / 60, 2)
    result["cpu_minutes"] = round((time.process_time() - cpu) / 60, 2)
    return result


# -- report ----------------------------------------------------------------------------------------
def summarise(results: dict[str, dict[int, dict]]) -> str:
    """Per variant and subset: mean Dice over held-out cases, volume ratio, pieces; plain beside."""
    plain_rows = [r for fold in results.get("plain", {}).values() for r in fold["rows"]]
    body = []
    for name, folds in results.items():
        rows = [r for fold in folds.values() for r in fold["rows"]]
        for rule in dict.fromkeys(r.get("rule") for r in rows):
            chosen = [r for r in rows if r.get("rule") == rule]
            label = name if rule is None else f"{name}/{rule}"
            body += [[label, *row] for row in by_subset(chosen, plain_rows if name != "plain" else ())]
    return table(["variant", *BY_SUBSET_HEADER], body)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train-dir", type=Path, action="append")
    parser.add_argument("--variants", default="planned", help="comma-separated names (and 'plain')")
    parser.add_argument("--variants-file", type=Path, default=Path(__file__).with_name("brain_tumor_cv_variants.json"),
                        help="JSON {name: {override: value}} adding variants (default: the recorded ones)")
    parser.add_argument("--folds", default="0,1,2,3", help="which folds to run")
    parser.add_argument("--n-folds", type=int, default=4)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall")
    parser.add_argument("--parallel", type=int, default=1, help="runs at once (one thread each)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--run-dir", type=Path, default=REPO / "runs" / "brain_tumor" / "cv")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--worker", choices=["plain", "medseg"], help=argparse.SUPPRESS)
    parser.add_argument("--manifest", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--overrides", default="{}", help=argparse.SUPPRESS)
    parser.add_argument("--trained-run", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--rules", default="{}", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args)))
        return 0
    variants = load_variants(args.variants_file)
    names = [n for n in args.variants.split(",") if n]
    unknown = [n for n in names if n != "plain" and n not in variants]
    if unknown:
        parser.error(f"unknown variants {unknown}; known: {sorted(variants)} and plain")
    train_dirs = args.train_dir or [SHARED / "brats2018", SHARED / "brats2015_partial"]
    dealt, part = cases_by_fold(train_dirs, args.n_folds, args.seed)
    root = Path(os.path.commonpath([str(d.resolve()) for d in train_dirs]))
    args.run_dir.mkdir(parents=True, exist_ok=True)
    tag = f"{args.minutes:g}min-{args.clock}"
    jobs = []
    for fold in [int(f) for f in args.folds.split(",")]:
        manifest = write_fold_manifest(dealt, part, fold, root, args.run_dir / f"fold{fold}.json")
        print(f"fold {fold}: held out {[c.case_id for c in dealt[fold]]}", flush=True)
        for name in names:
            out = args.run_dir / tag / name / f"fold{fold}"
            jobs.append((name, fold, manifest, out))
    results: dict[str, dict[int, dict]] = {}
    pending = []
    for name, fold, manifest, out in jobs:
        done = out / "result.json"
        if done.is_file():
            results.setdefault(name, {})[fold] = json.loads(done.read_text())
        else:
            pending.append((name, fold, manifest, out))

    def run(job) -> None:
        name, fold, manifest, out = job
        spec = variants.get(name, {})
        worker_args = ["--worker", "plain" if name == "plain" else "medseg", "--manifest", str(manifest),
                       "--out", str(out), "--minutes", str(args.minutes), "--clock", args.clock,
                       "--seed", str(args.seed), "--overrides", json.dumps(spec.get("_inference", spec))]
        if "_from" in spec:
            worker_args += ["--trained-run", str(args.run_dir / tag / spec["_from"] / f"fold{fold}"),
                            "--rules", json.dumps(spec.get("_rules", {}))]
        out.mkdir(parents=True, exist_ok=True)
        try:
            result = run_worker(Path(__file__), worker_args)
        except SystemExit as exc:
            print(f"{name} fold {fold} failed: {exc}", file=sys.stderr, flush=True)
            return
        (out / "result.json").write_text(json.dumps(result, indent=2) + "\n")
        results.setdefault(name, {})[fold] = result
        print(f"done {name} fold {fold}: {result['wall_minutes']} min wall, {result['cpu_minutes']} CPU min",
              flush=True)

    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max(1, args.parallel)) as pool:
        list(pool.map(run, pending))
    ordered = {n: dict(sorted(results[n].items())) for n in names if n in results}
    print(summarise(ordered))
    if args.json:
        args.json.write_text(json.dumps({"minutes": args.minutes, "clock": args.clock, "results": ordered}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
