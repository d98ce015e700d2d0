"""Brain tumour accuracy on real patients: medseg's brain_tumor recipe beside a plain MONAI recipe.

Case folders in any layout ``medseg data import brats`` knows (BraTS 2018-2021 or 2023 names, any
subset of sequences the bundle supports) are imported; the test cases are ``--test-dir``'s, else
a seeded hold-out of the training folders, stratified by sequence subset. Both columns train on
the same cases for the same wall-clock budget, at the same time (one process and one torch thread
each, so they share the machine evenly; ``--clock cpu``: the same budget of each column's own CPU
time), then segment the test cases on their own grids, scored
with ``medseg.evaluation.metrics`` (Dice and HD95 per BraTS region, per case and as a mean). medseg's run
also segments each test case under every sequence subset it can make (``brain_tumor_scoring``), printed
per case and per subset beside the FLAIR-only plain model on the same case.

    python benchmarks/brain_tumor_accuracy.py --run-dir runs/brain_tumor/real --minutes 30 --json out.json

medseg trains at its CPU plan with ``--time-limit`` when ``medseg train`` has them; otherwise the trainer is asked to
stop (SIGTERM: it finishes the epoch and writes its checkpoint) when the budget ends. The plain
column predicts the whole tumour only (FLAIR → WT, DESIGN.md's reference recipe).
"""

from __future__ import annotations

import argparse
import inspect
import json
import math
import os
import random
import resource
import signal
import statistics
import sys
import threading
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # spinning OpenMP threads slow a shared CPU down

sys.path.insert(0, str(Path(__file__).resolve().parent))
from brain_tumor_scoring import BY_SUBSET_HEADER, by_subset, score_plain  # noqa: E402
from brain_tumor_scoring import score_medseg as score_subsets  # noqa: E402
from common import REPO, benchmark_parser, run_worker, table  # noqa: E402

SHARED = REPO.parent / "shared" / "data"
REGIONS = ("WT", "TC", "ET")


# -- data ------------------------------------------------------------------------------------------
def _imported(folder: Path):
    from medseg.bundle.find import find_bundle
    from medseg.data.importers import import_brats

    return import_brats(folder, find_bundle("brain_tumor"))


def build_manifest(train_dirs: list[Path], test_dir: Path | None, test_cases: int, seed: int, out: Path) -> Path:
    """One manifest: training cases from every ``train_dirs``, test cases from ``test_dir`` or held out.

    The hold-out takes from each sequence subset (e.g. four sequences / FLAIR+T1ce) its share of
    ``test_cases``, seeded, so both kinds of study are scored.
    """
    from medseg.bundle.find import find_bundle
    from medseg.data.importers import Imported, write_imported

    parts = [_imported(d) for d in train_dirs]
    cases = [c for part in parts for c in part.cases]
    test = [c for c in _imported(test_dir).cases] if test_dir else []
    if not test_dir:
        groups: dict[tuple, list] = {}
        for case in sorted(cases, key=lambda c: c.case_id):
            groups.setdefault(tuple(case.missing), []).append(case)
        rng = random.Random(seed)
        for group in groups.values():
            rng.shuffle(group)
            test += group[: max(1, round(len(group) * test_cases / len(cases)))]
        held = {c.case_id for c in test}
        cases = [c for c in cases if c.case_id not in held]
    root = Path(os.path.commonpath([str(d.resolve()) for d in [*train_dirs, *([test_dir] if test_dir else [])]]))
    imported = Imported(cases, test, parts[0].label_names, variant=parts[0].variant)
    return write_imported(imported, find_bundle("brain_tumor"), out, root, folds=5, seed=seed)


# -- medseg column ---------------------------------------------------------------------------------
CPU_CLOCK = "$__import__('time').process_time"  # the trainer's budget on this process's CPU time


def clock_overrides(clock: str) -> dict:
    """brain_tumor config overrides that budget its trainer by this process's CPU time (``clock`` "cpu"):
    the trainer's own clock argument, which has no config key of its own; none for the wall clock."""
    if clock != "cpu":
        return {}
    from medseg.bundle.find import find_bundle

    return {"trainer": {**find_bundle("brain_tumor").parser("train").get("trainer"), "clock": CPU_CLOCK}}


def train_medseg(manifest: Path, run_dir: Path, minutes: float, seed: int, clock: str = "wall") -> dict:
    import medseg
    from medseg.errors import TrainingStopped

    start = time.perf_counter()
    overrides: dict = {"seed": seed, **clock_overrides(clock)}
    kwargs = dict(data=manifest, output_dir=run_dir, device="cpu", overrides=overrides, progress=False)
    timer = None
    if "time_limit" in inspect.signature(medseg.train).parameters:  # the planned recipe, fitted to the budget
        kwargs["time_limit"] = minutes
        how = "time_limit (planned CPU recipe)"
    else:  # no --time-limit yet: ask the trainer to stop (after its epoch and checkpoint) when the budget ends,
        # every 10 s until it does (a SIGTERM before its handler is installed, while caching, is ignored)
        kwargs["epochs"] = 100000
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        done = threading.Event()

        def stop() -> None:
            if not done.wait(minutes * 60.0):
                while not done.wait(10.0 if os.kill(os.getpid(), signal.SIGTERM) is None else 0):
                    pass

        timer = threading.Thread(target=stop, daemon=True)
        timer.start()
        how = "SIGTERM at the budget"
    try:
        result = medseg.train("brain_tumor", **kwargs)
        best = (result.best_metric, result.best_epoch)
    except TrainingStopped:  # stopped at the budget: the best validated weights, else the last ones
        from medseg.bundle.runs import LAST
        from medseg.inference.postprocessing_search import choose_postprocessing
        from medseg.runtime.checkpoint import load_checkpoint, save_checkpoint

        last = load_checkpoint(run_dir / LAST)
        if not (run_dir / "models" / "model.pt").is_file():
            save_checkpoint(last["model"], run_dir / "models" / "model.pt")
        best = (last["best_metric"], last["best_epoch"] if last["best_epoch"] else last["epoch"])
        choose_postprocessing(run_dir)  # what medseg.train does after a run that ends on its own
    finally:
        if timer is not None:
            done.set()
    return {"train_minutes": (time.perf_counter() - start) / 60.0, "budget": how, "best_val_dice": best[0],
            "best_epoch": best[1]}


def score_medseg(manifest: Path, run_dir: Path) -> list[dict]:
    """Segment the manifest's test cases with the run (all outputs written) and score them."""
    import medseg
    from medseg.evaluation import evaluate_predictions

    predictor = medseg.Predictor.from_bundle(run_dir, device="cpu")
    pred_dir = run_dir / "test_predictions"
    predictor.predict_to_dir([manifest], pred_dir, progress=False)
    evaluation = evaluate_predictions(pred_dir, manifest, predictor.schema, predictor.modalities)
    return [{"case": row["case"], "sequences": row.get("sequences", ""),
             **{r: float(row[r]) for r in REGIONS}, **{f"{r}_hd95": float(row[f"{r}/hd95_mm"]) for r in REGIONS}}
            for row in evaluation.rows]


# -- plain column ----------------------------------------------------------------------------------
def _flair_cases(manifest: Path, section: str) -> list[dict]:
    from medseg.data.manifest import load_manifest

    modalities = ["t1", "t1ce", "t2", "flair"]
    loaded = load_manifest(manifest, modalities=modalities)
    out = []
    for case in loaded.cases(section):
        present = [m for m in modalities if m not in case.missing]
        if "flair" in present:
            out.append({"id": case.case_id, "image": str(case.images[present.index("flair")]), "label": str(case.label),
                        "sequences": "+".join(present)})
    return out


def run_plain(manifest: Path, run_dir: Path, minutes: float, seed: int, clock: str = "wall") -> dict:
    import brain_tumor_plain as plain

    log = plain.train(_flair_cases(manifest, "training"), minutes, run_dir, seed,
                      clock=time.process_time if clock == "cpu" else time.perf_counter)
    rows = [{**row, "sequences": "flair"} for row in score_plain(manifest, run_dir / "plain_unet.pt")]
    for row in rows:
        print(f"  plain {row['case']}: WT {row['WT']:.3f}", file=sys.stderr, flush=True)
    return {**log, "rows": rows}


def worker(args) -> dict:
    import torch

    torch.set_num_threads(args.threads)
    load = os.getloadavg()
    if args.worker == "plain":
        result = run_plain(args.manifest, args.run_dir / "plain", args.minutes, args.seed, args.clock)
    else:
        result = train_medseg(args.manifest, args.run_dir / "medseg", args.minutes, args.seed, args.clock)
        result["rows"] = score_medseg(args.manifest, args.run_dir / "medseg")
        result["subset_rows"] = score_subsets(args.manifest, args.run_dir / "medseg")
    result["load_average"] = [round(load[0], 2), round(os.getloadavg()[0], 2)]
    usage = resource.getrusage(resource.RUSAGE_SELF)  # what the shared CPU actually gave this column
    result["cpu_minutes"] = round((usage.ru_utime + usage.ru_stime) / 60.0, 2)
    return result


# -- report ----------------------------------------------------------------------------------------
def _mean(rows: list[dict], key: str) -> float:
    values = [r[key] for r in rows if key in r and not math.isnan(r[key])]
    return statistics.mean(values) if values else math.nan


def report(columns: dict[str, dict]) -> str:
    lines = []
    for name, result in columns.items():
        rows = result["rows"]
        keys = [k for k in ("WT", "TC", "ET", "WT_hd95", "TC_hd95", "ET_hd95") if any(k in r for r in rows)]
        body = [[r["case"], r["sequences"], *[r.get(k, math.nan) for k in keys]] for r in rows]
        body.append(["mean", "", *[_mean(rows, k) for k in keys]])
        lines += [f"\n{name}: trained {result['train_minutes']:.1f} min wall, {result.get('cpu_minutes', '?')} CPU min "
                  f"in all, load average {result['load_average']}",
                  table(["case", "sequences", *[k.replace("_hd95", " HD95 mm") for k in keys]], body)]
    if "subset_rows" in columns.get("medseg", {}):
        rows = columns["medseg"]["subset_rows"]
        plain_rows = columns.get("plain", {}).get("rows", [])
        body = [[r["case"], r["subset"], *[r[k] for k in ("WT", "TC", "ET", "WT_ratio", "WT_pieces")],
                 next((p["WT"] for p in plain_rows if p["case"] == r["case"]), math.nan)] for r in rows]
        lines += ["\nmedseg on every sequence subset each test case can make (sequences left out as a study that "
                  "lacks them is read), plain = the FLAIR-only model on the same case",
                  table(["case", "subset", "WT", "TC", "ET", "WT vol ratio", "WT pieces", "plain WT"], body),
                  "\nper subset (mean over cases)", table(BY_SUBSET_HEADER, by_subset(rows, plain_rows))]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = benchmark_parser(__doc__.splitlines()[0])
    parser.add_argument("--train-dir", type=Path, action="append", help="Folder of case folders; repeatable "
                        "(default: ../shared/data/brats2018 and brats2015_partial).")
    parser.add_argument("--test-dir", type=Path, help="Folder of test case folders (default: a seeded hold-out).")
    parser.add_argument("--test-cases", type=int, default=3, help="Held out when there is no --test-dir.")
    parser.add_argument("--run-dir", type=Path, default=REPO / "runs" / "brain_tumor" / "real_benchmark")
    parser.add_argument("--minutes", type=float, default=30.0, help="Training time budget of each column.")
    parser.add_argument("--columns", default="medseg,plain", help="Which columns to run (comma-separated).")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--manifest", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=1, help="Torch threads per column.")
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                        help="What --minutes counts: wall-clock time (both columns at once on a quiet machine), or "
                             "each column's own CPU time (figures that do not depend on what else runs).")
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args)))
        return 0
    train_dirs = args.train_dir or [SHARED / "brats2018", SHARED / "brats2015_partial"]
    args.run_dir.mkdir(parents=True, exist_ok=True)
    manifest = build_manifest(train_dirs, args.test_dir, args.test_cases, args.seed, args.run_dir / "manifest.json")
    raw = json.loads(manifest.read_text())
    print(f"training cases: {len(raw['training'])}, test cases: {[e['id'] for e in raw['test']]}", flush=True)
    common = ["--manifest", str(manifest), "--run-dir", str(args.run_dir), "--minutes", str(args.minutes),
              "--seed", str(args.seed), "--threads", str(args.threads), "--clock", args.clock]
    names = [c for c in args.columns.split(",") if c]
    results: dict[str, dict] = {}

    def column(name: str) -> None:
        try:
            results[name] = run_worker(Path(__file__), ["--worker", name, *common])
        except SystemExit as exc:  # a thread would swallow it silently
            print(f"{name} column failed: {exc}", file=sys.stderr, flush=True)

    threads = [threading.Thread(target=column, args=(n,)) for n in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    columns = {n: results[n] for n in names if n in results}
    print(report(columns))
    summary = {"cases": len(raw["test"]), "training_cases": len(raw["training"]), "minutes_budget": args.minutes,
               "cpu_count": os.cpu_count(), "torch_threads_per_column": args.threads, "clock": args.clock}
    for name, result in columns.items():
        summary[name] = {"dice": {r: _mean(result["rows"], r) for r in REGIONS if any(r in x for x in result["rows"])},
                         "hd95_mm": {r: _mean(result["rows"], f"{r}_hd95") for r in REGIONS
                                     if any(f"{r}_hd95" in x for x in result["rows"])},
                         **{k: v for k, v in result.items() if k not in ("rows", "subset_rows")},
                         "per_case": result["rows"]}
        if "subset_rows" in result:
            summary[name]["per_subset"] = {row[0]: dict(zip(BY_SUBSET_HEADER[1:], row[1:]))
                                           for row in by_subset(result["subset_rows"])}
            summary[name]["per_case_subset"] = result["subset_rows"]
    if "medseg" in columns:
        summary["dice"] = summary["medseg"]["dice"]
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2) + "\n")
    return 0 if len(columns) == len(names) else 1


if __name__ == "__main__":
    sys.exit(main())
