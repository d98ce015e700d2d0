"""Training off a terminal (a cluster log) prints one line per epoch: loss, validation Dice, seconds."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests.cli_helpers import override_args
from tests.conftest import TINY


@pytest.mark.slow
def test_training_into_a_log_file_prints_one_line_per_epoch(tiny_dataset, tmp_path):
    overrides = override_args({**TINY, "val_interval": 2})
    done = subprocess.run(
        [sys.executable, "-m", "medseg", "train", "brain_tumor", "--data", str(tiny_dataset), "--output-dir",
         str(tmp_path / "run"), "--epochs", "2", "--device", "cpu", *overrides],
        capture_output=True, text=True, timeout=600, env={**os.environ, "MEDSEG_CACHE": str(tmp_path / "cache")})
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 2, done.stderr
    assert re.fullmatch(r"epoch 1/2: loss \d+\.\d{4}, \d+\.\d s", lines[0]), lines  # no validation at epoch 1
    assert re.fullmatch(r"epoch 2/2: loss \d+\.\d{4}, validation Dice \d\.\d{4}, \d+\.\d s", lines[1]), lines
