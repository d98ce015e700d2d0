"""Calibration of the registration match check (``medseg.study.match``) on the real cases.

Every registered sequence of a real case, in four versions, each moved and re-gridded as a clinical
acquisition (``medseg.study.simulate.CLINICAL``: 12–16°, 19–22 mm, sagittal / thick axial grids):

* ``correct``: the sequence itself;
* ``mirrored``: the sequence mirrored left-right before the acquisition (a flipped conversion);
* ``rotated90``: the sequence turned 90° about the head's long axis (a wrong orientation in a header);
* ``other``: the same sequence of another patient (the next case of the same set).

Each is registered onto the case's T1ce by ``register_rigid`` (refused there when the motion is
implausible), then measured by ``MatchCheck`` inside the brain: mutual information (``mi``) and edge
alignment (``edges``), each also for the registered sequence mirrored about the brain's mid-plane
(``mirror_*``), the edge ratio mirrored / as registered that the check judges, and the verdict with
medseg's thresholds. Cases: both BraTS 2018 cases (T1, T2, FLAIR) and the six
BraTS 2015 cases (FLAIR; they have no T1 or T2). Times are per sequence (``match_s``) and per study
(``symmetry_s``, the reference's mid-plane), beside the registration's own (``register_s``).

    python benchmarks/registration_check.py [--sets brats2018 brats2015_partial] [--json out.json]
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, benchmark_parser, table  # noqa: E402

from medseg.errors import InputError  # noqa: E402
from medseg.study.match import MatchCheck  # noqa: E402
from medseg.study.register import RegistrationError, image_centre, read_image, register_rigid  # noqa: E402
from medseg.study.simulate import CLINICAL, Acquisition, acquire, mirrored  # noqa: E402

DATA = Path(os.environ.get("MEDSEG_SHARED_DATA", REPO.parent / "shared" / "data"))
SEQUENCES = {"brats2018": ("t1", "t2", "flair"), "brats2015_partial": ("flair",)}
CONDITIONS = ("correct", "mirrored", "rotated90", "other")


def moved_sequence(case: Path, other: Path, sequence: str, condition: str, centre):
    """The sequence as a clinical acquisition in one of the four versions above."""
    source = other if condition == "other" else case
    image = read_image(source / f"{source.name}_{sequence}.nii.gz")
    acquisition = CLINICAL[sequence]
    if condition == "mirrored":
        image = mirrored(image)
    if condition == "rotated90":
        acquisition = Acquisition((0.0, 0.0, 90.0), acquisition.shift_mm, acquisition.spacing, acquisition.direction)
    return acquire(image, acquisition, centre)[0]


def run_case(case: Path, other: Path, sequences: tuple[str, ...]) -> list[dict]:
    fixed = read_image(case / f"{case.name}_t1ce.nii.gz")
    tic = time.perf_counter()
    check = MatchCheck(fixed)
    symmetry_s = round(time.perf_counter() - tic, 2)
    rows = []
    for sequence in sequences:
        for condition in CONDITIONS:
            moving = moved_sequence(case, other, sequence, condition, image_centre(fixed))
            row = {"case": case.name, "sequence": sequence, "condition": condition, "symmetry_s": symmetry_s}
            tic = time.perf_counter()
            try:
                registration = register_rigid(fixed, moving, sequence)
            except RegistrationError as exc:
                row.update(register_s=round(time.perf_counter() - tic, 1), verdict="refused: motion",
                           detail=exc.message.split(";")[0])
                rows.append(row)
                continue
            row.update(register_s=round(time.perf_counter() - tic, 1), rotation_deg=round(registration.rotation_deg, 1),
                       shift_mm=round(registration.translation_mm, 1), final_mattes_mi=round(registration.metric, 3))
            tic = time.perf_counter()
            match = check.measure(moving, registration.transform)
            row.update(match_s=round(time.perf_counter() - tic, 2), mi=round(match.mutual_information, 3),
                       mirror_mi=round(match.mirrored_mutual_information, 3), edges=round(match.edges, 3),
                       mirror_edges=round(match.mirrored_edges, 3), edge_ratio=round(match.edge_ratio, 2))
            try:
                check.judge(match, sequence, sequence)
                row["verdict"] = "accepted"
            except InputError as exc:
                row["verdict"] = "refused: mirrored" if "seems mirrored" in exc.message else "refused: match"
            rows.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
    return rows


def main() -> None:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--sets", nargs="+", default=list(SEQUENCES), choices=list(SEQUENCES))
    args = parser.parse_args()
    rows = []
    load = [os.getloadavg()[0]]
    for name in args.sets:
        cases = sorted(p for p in (DATA / name).iterdir() if p.is_dir())
        for index, case in enumerate(cases):
            rows.extend(run_case(case, cases[(index + 1) % len(cases)], SEQUENCES[name]))
            load.append(os.getloadavg()[0])
    headers = ["case", "sequence", "condition", "rotation_deg", "shift_mm", "final_mattes_mi", "mi", "mirror_mi",
               "edges", "mirror_edges", "edge_ratio", "verdict", "register_s", "match_s", "symmetry_s"]
    print(f"CPU threads: {os.cpu_count()}; load average (1 min) during the run: {min(load):.1f}–{max(load):.1f}")
    print(table(headers, [[row.get(h, "") for h in headers] for row in rows]))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
