"""SIGTERM during ``medseg infer`` of many cases: the case being written is finished, then medseg stops with
one line and a non-zero exit; no temporary file is left and every case written is whole."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import nibabel as nib
import nrrd
import pytest

OUTPUTS = ("_seg.nii.gz", ".seg.nrrd", "_measurements.json", "_measurements.csv")


def _wait_for(predicate, process: subprocess.Popen, timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert process.poll() is None, "medseg infer ended before the moment to stop it"
        assert time.monotonic() < deadline, "timed out waiting for the moment to stop medseg infer"
        time.sleep(0.005)


@pytest.mark.slow
@pytest.mark.parametrize("moment", ["while the first case is written", "after the first case", "after two cases"])
def test_sigterm_finishes_the_current_case_and_leaves_no_temporary_files(tiny_run, tiny_dataset, tmp_path, moment):
    cases = sorted(p for p in tiny_dataset.parent.glob("phantom_*") if p.is_dir())
    out = tmp_path / "out"
    command = [sys.executable, "-m", "medseg", "infer", str(tiny_run), "--output-dir", str(out), "--device", "cpu",
               *(arg for case in cases for arg in ("--input", str(case)))]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "OMP_NUM_THREADS": "1"})
    try:
        labels = lambda: list(out.glob("*_seg.nii.gz")) if out.is_dir() else []  # noqa: E731
        if moment == "while the first case is written":
            _wait_for(lambda: out.is_dir() and any(p.name.startswith(".tmp-") for p in out.iterdir()), process)
        else:
            _wait_for(lambda: len(labels()) >= (1 if moment == "after the first case" else 2), process)
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=300)
    finally:
        process.kill()
    lines = [line for line in stderr.splitlines()  # the tiny model's cases also get plausibility warnings
             if line.startswith("medseg: ") and not line.startswith("medseg: warning: ")]
    assert process.returncode == 130, stderr[-2000:]
    assert lines[0] == ("medseg: SIGTERM received: finishing this case's files, then stopping "
                        "(Ctrl-C again stops at once)")
    assert lines[-1].startswith(f"medseg: error: {out}: stopped by SIGTERM after ") and len(lines) == 2, lines
    assert "of 10 cases (their outputs are complete; the others were not started)" in lines[-1]

    names = sorted(p.name for p in out.iterdir())
    assert not [n for n in names if n.startswith(".tmp-")], names
    done = sorted(n.removesuffix("_seg.nii.gz") for n in names if n.endswith("_seg.nii.gz"))
    assert 1 <= len(done) < len(cases) and f"after {len(done)} of 10 cases" in lines[-1]
    assert names == sorted(["brain_tumor.ctbl", *(case + suffix for case in done for suffix in OUTPUTS)])
    for case in done:  # whole files: each opens
        assert nib.load(out / f"{case}_seg.nii.gz").get_fdata().shape == nib.load(
            tiny_dataset.parent / case / f"{case}_t1.nii.gz").shape
        assert nrrd.read(str(out / f"{case}.seg.nrrd"))[0].shape[0] == 4
        assert (out / f"{case}_measurements.json").read_text().rstrip().endswith("}")
