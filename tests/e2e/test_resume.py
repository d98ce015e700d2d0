"""Kill, stop and resume: a run killed mid-epoch loses that epoch only and ends where it would have.

Training runs in a real subprocess (``python -m medseg train``) on tiny phantoms so SIGKILL and
SIGTERM hit it as they would on a cluster; the resumed run is compared with an uninterrupted one.
"""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

import medseg
from medseg.bundle.runs import LAST
from medseg.cli import main
from medseg.data.synthetic import write_demo_dataset
from tests.cli_helpers import override_args
from tests.conftest import TINY

EPOCHS = 12  # enough that a signal sent after the first checkpoint lands mid-run on an idle CPU
SMALL = {**TINY, "patch_size": [16, 16, 16], "roi_size": [16, 16, 16]}  # seconds per run, even on a busy CPU


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return write_demo_dataset(tmp_path_factory.mktemp("resume_data"), n_train=3, n_val=1, n_test=0, seed=2,
                              spacing=8.0)


@pytest.fixture(scope="module")
def reference(data, tmp_path_factory) -> dict:
    """The last checkpoint of the same run, never interrupted."""
    run = tmp_path_factory.mktemp("reference") / "run"
    medseg.train("brain_tumor", data=data, output_dir=run, epochs=EPOCHS, device="cpu", overrides=SMALL,
                 progress=False)
    return torch.load(run / LAST, weights_only=True)


def _start(data: Path, run: Path) -> subprocess.Popen:
    overrides = override_args(SMALL)
    command = [sys.executable, "-m", "medseg", "train", "brain_tumor", "--data", str(data), "--output-dir", str(run),
               "--epochs", str(EPOCHS), "--device", "cpu", *overrides]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy())


def _wait_for_first_checkpoint(process: subprocess.Popen, run: Path, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while not (run / LAST).exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "no checkpoint written"
        time.sleep(0.05)


def _epochs(run: Path) -> list[int]:
    with (run / "metrics.csv").open() as handle:
        return [int(row["epoch"]) for row in csv.DictReader(handle)]


def _same_as_reference(run: Path, reference: dict) -> None:
    final = torch.load(run / LAST, weights_only=True)
    assert final["epoch"] == EPOCHS
    assert [r["train_loss"] for r in final["history"]] == [r["train_loss"] for r in reference["history"]]
    assert all(torch.equal(final["model"][k], reference["model"][k]) for k in reference["model"])
    assert final["best_metric"] == reference["best_metric"]


def test_sigkill_mid_epoch_then_resume_loses_at_most_one_epoch(data, reference, tmp_path):
    run = tmp_path / "run"
    process = _start(data, run)
    _wait_for_first_checkpoint(process, run)
    time.sleep(0.1)  # into the next epoch
    finished_before_kill = len(_epochs(run)) if (run / "metrics.csv").exists() else 0
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=60)
    assert process.returncode == -signal.SIGKILL

    saved = torch.load(run / LAST, weights_only=True)
    assert 1 <= saved["epoch"] < EPOCHS, "the kill should land before the run finished"
    assert saved["epoch"] >= finished_before_kill  # at most the epoch in progress is lost
    assert not list(run.rglob(".tmp-*")), "a temporary file was left behind"

    result = CliRunner().invoke(main, ["train", "--resume", str(run), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert _epochs(run) == list(range(1, EPOCHS + 1))
    _same_as_reference(run, reference)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_or_sigint_stops_after_a_checkpoint_and_resumes(signum, data, reference, tmp_path):
    run = tmp_path / "run"
    process = _start(data, run)
    _wait_for_first_checkpoint(process, run)
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    last_line = stderr.strip().splitlines()[-1]
    assert f"stopped by {signum.name} after epoch" in last_line and "--resume" in last_line, stderr
    assert "Traceback" not in stderr
    stopped_at = torch.load(run / LAST, weights_only=True)["epoch"]
    assert f"after epoch {stopped_at} of {EPOCHS}" in last_line
    assert _epochs(run) == list(range(1, stopped_at + 1))

    # the bundle argument may be given too, as long as it is the run's own bundle
    result = CliRunner().invoke(main, ["train", "brain_tumor", "--resume", str(run), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert _epochs(run) == list(range(1, EPOCHS + 1))
    _same_as_reference(run, reference)

    # resuming a finished run trains nothing more
    result = CliRunner().invoke(main, ["train", "--resume", str(run), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert _epochs(run) == list(range(1, EPOCHS + 1))
    _same_as_reference(run, reference)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "--resume", "{empty}"], "no bundle or run directory"),
        (["train", "--resume", "{run}"], "nothing to resume: no models/checkpoint_last.pt"),
        (["train", "--resume", "{run}", "--epochs", "9"], "--resume continues a run as it was configured"),
        (["train"], "name a bundle to train"),
    ],
)
def test_resume_refusals_are_one_line(tmp_path, args, message):
    from medseg.bundle.find import find_bundle
    from medseg.bundle.runs import create_run_bundle

    (tmp_path / "empty").mkdir()
    create_run_bundle(find_bundle("brain_tumor"), tmp_path / "run", dict(SMALL))
    result = CliRunner().invoke(main, [a.format(empty=tmp_path / "empty", run=tmp_path / "run") for a in args])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.output
