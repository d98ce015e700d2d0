"""Clinical study → aligned case: time per study and registration error on real BraTS cases.

Each real case (``../shared/data/brats2018``) becomes a clinical study: T1 sagittal 1.2 mm, T2
axial 3 mm, FLAIR axial 5 mm, each moved by a known rigid motion of 12–16° and 19–22 mm
(``medseg.study.simulate.CLINICAL``); the T1ce stays as the reference. Then:

* medseg: ``prepare_study`` (identify, brain check, two-stage registration, resampling), timed;
* plain: the one-stage SimpleITK recipe in DESIGN.md (moments, Mattes MI 32 bins, 5 % random
  sampling, regular-step gradient descent, shrink 4/2/1, smoothing 2/1/0), the same pairs;

and the target registration error (TRE) of each transform over a 10 mm lattice of brain points.
Times: ``study_s`` is the whole ``prepare_study`` (one figure per study), ``register_s`` that
sequence's registration inside it, ``plain_s`` the one-stage recipe on the same pair; each row also
prints the machine's load average when the case ended (timings need a quiet machine).

    python benchmarks/study_bench.py [--cases Brats18_2013_2_1] [--json out.json]
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, benchmark_parser, table  # noqa: E402

import medseg.study.prepare as prepare_module  # noqa: E402
from medseg.study import StudyOptions, prepare_study  # noqa: E402
from medseg.study.register import read_image  # noqa: E402
from medseg.study.simulate import CLINICAL, brain_lattice, simulate_study, target_registration_error  # noqa: E402

BRATS = Path(os.environ.get("MEDSEG_SHARED_DATA", REPO.parent / "shared" / "data")) / "brats2018"


def plain_register(fixed, moving):
    """DESIGN.md's measured one-stage recipe (the plain SimpleITK baseline)."""
    import SimpleITK as sitk

    initial = sitk.CenteredTransformInitializer(fixed, moving, sitk.Euler3DTransform(),
                                                sitk.CenteredTransformInitializerFilter.MOMENTS)
    method = sitk.ImageRegistrationMethod()
    method.SetMetricAsMattesMutualInformation(32)
    method.SetMetricSamplingStrategy(method.RANDOM)
    method.SetMetricSamplingPercentage(0.05, 2024)
    method.SetInterpolator(sitk.sitkLinear)
    method.SetOptimizerAsRegularStepGradientDescent(1.0, 1e-4, 200, gradientMagnitudeTolerance=1e-6)
    method.SetOptimizerScalesFromPhysicalShift()
    method.SetShrinkFactorsPerLevel([4, 2, 1])
    method.SetSmoothingSigmasPerLevel([2, 1, 0])
    method.SmoothingSigmasAreSpecifiedInPhysicalUnitsOn()
    method.SetInitialTransform(initial, inPlace=False)
    result = method.Execute(fixed, moving)
    return sitk.Euler3DTransform(sitk.CompositeTransform(result).GetNthTransform(0))


def timed_registrations() -> dict[str, float]:
    """Seconds of each sequence's ``register_rigid`` call inside ``prepare_study`` (keyed by the series name
    it is given), measured by wrapping the function ``medseg.study.prepare`` calls."""
    seconds: dict[str, float] = {}
    original = prepare_module.register_rigid

    def register(fixed, moving, name, settings=None):
        tic = time.perf_counter()
        try:
            return original(fixed, moving, name, settings)
        finally:
            seconds[str(name)] = time.perf_counter() - tic

    prepare_module.register_rigid = register
    return seconds


def run_case(case: str, work: Path, plain: bool) -> list[dict]:
    study = work / case
    truth = simulate_study(BRATS / case, study)
    reference = study / f"{case}_t1ce.nii.gz"
    points = brain_lattice(reference)
    registration_s = timed_registrations()
    start = time.perf_counter()
    prepared = prepare_study(study, ["t1", "t1ce", "t2", "flair"], StudyOptions())
    seconds = time.perf_counter() - start
    rows = []
    for item in prepared.sequences:
        if item.registration is None:
            continue
        error = target_registration_error(item.registration.transform, truth[item.sequence], points)
        row = {"case": case, "sequence": item.sequence, "study_s": round(seconds, 1),
               "register_s": round(registration_s[str(item.series.name)], 1),
               "medseg_tre_median_mm": round(float(np.median(error)), 2),
               "medseg_tre_max_mm": round(float(error.max()), 2), "final_mattes_mi": round(item.registration.metric, 4)}
        if plain:
            fixed = read_image(reference)
            tic = time.perf_counter()
            transform = plain_register(fixed, read_image(item.native))
            error = target_registration_error(transform, truth[item.sequence], points)
            seconds_plain = round(time.perf_counter() - tic, 1)
            row.update(plain_s=seconds_plain, plain_tre_median_mm=round(float(np.median(error)), 2),
                       plain_tre_max_mm=round(float(error.max()), 2))
        rows.append(row)
    load = round(os.getloadavg()[0], 1)
    return [{**row, "load_avg": load} for row in rows]


def main() -> None:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--cases", nargs="+", default=sorted(p.name for p in BRATS.iterdir() if p.is_dir()))
    parser.add_argument("--no-plain", action="store_true", help="skip the plain one-stage baseline (slow)")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault("MEDSEG_CACHE", str(Path(tmp) / "cache"))
        for case in args.cases:
            rows.extend(run_case(case, Path(tmp), not args.no_plain))
    headers = ["case", "sequence", "study_s", "register_s", "medseg_tre_median_mm", "medseg_tre_max_mm",
               "final_mattes_mi"]
    if not args.no_plain:
        headers += ["plain_s", "plain_tre_median_mm", "plain_tre_max_mm"]
    headers.append("load_avg")
    print(f"CPU threads: {os.cpu_count()}; motions: " + "; ".join(
        f"{s} {a.rotation_deg} deg {a.shift_mm} mm, {a.spacing} mm" for s, a in CLINICAL.items()))
    print(table(headers, [[row.get(h, "") for h in headers] for row in rows]))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
