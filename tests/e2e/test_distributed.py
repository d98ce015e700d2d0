"""Two CPU processes under torchrun (gloo) train to the same weights as one process.

Same global batch (2 ranks x 2 = 1 process x 4), same seed, no shuffling and no augmentation, and
patches as large as the (padded) volumes, so both runs see identical data in identical global
batches; DDP averages gradients, which equals the gradient of the mean loss over the global batch.
Plain SGD is used here: Adam divides by the gradient's running magnitude, which turns float
summation-order noise on parameters with a true gradient of zero (conv biases right before an
instance norm) into full learning-rate steps, so Adam weights agree only where gradients are real.
"""

import csv
import json
import subprocess
import sys

import pytest
import torch

from tests.conftest import TINY

DETERMINISTIC = {**TINY, "patch_size": [64, 64, 64], "roi_size": [64, 64, 64], "shuffle": False,
                 "train_transforms#augment": False, "samples_per_case": 1, "val_interval": 1,
                 "optimizer#_target_": "torch.optim.SGD", "learning_rate": 0.05}


def _train(tmp_path, name, nproc, batch_size, dataset):
    overrides = {**DETERMINISTIC, "batch_size": batch_size}
    args = ["train", "brain_tumor", "--data", str(dataset), "--output-dir", str(tmp_path / name),
            "--epochs", "2", "--device", "cpu", "--nproc", str(nproc)]
    for key, value in overrides.items():
        args += ["--override", f"{key}={json.dumps(value)}"]
    done = subprocess.run([sys.executable, "-m", "medseg", *args], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return torch.load(tmp_path / name / "models" / "checkpoint_last.pt", weights_only=True)["model"]


@pytest.fixture(scope="module")
def small_dataset(tmp_path_factory):
    from medseg.data.synthetic import write_demo_dataset

    return write_demo_dataset(tmp_path_factory.mktemp("ddp"), n_train=4, n_val=2, n_test=0, seed=2, spacing=6.0)


@pytest.mark.slow
def test_two_gloo_processes_match_one_process(tmp_path, small_dataset):
    single = _train(tmp_path, "single", nproc=1, batch_size=4, dataset=small_dataset)
    ddp = _train(tmp_path, "ddp", nproc=2, batch_size=2, dataset=small_dataset)
    assert single.keys() == ddp.keys()
    for key in single:
        torch.testing.assert_close(ddp[key], single[key], rtol=1e-4, atol=1e-5, msg=key)
    single_log, ddp_log = (_metrics(tmp_path / name / "metrics.csv") for name in ("single", "ddp"))
    assert len(ddp_log) == 2  # 2 epochs, written once (by rank 0)
    for one, two in zip(single_log, ddp_log):  # loss and validation Dice reduced across ranks
        for key in ("train_loss", "dice_WT", "dice_TC", "dice_ET"):
            assert float(one[key]) == pytest.approx(float(two[key]), abs=1e-4), key


def _metrics(path):
    with path.open() as handle:
        return list(csv.DictReader(handle))


@pytest.mark.slow
def test_under_a_time_budget_rank_0_decides_for_every_rank(tmp_path, small_dataset):
    """Rank 1's clock runs ten times as fast as rank 0's (as if its copy drifted): alone it would stop
    after three iterations and leave rank 0 waiting in a gradient all-reduce. Rank 0's clock decides the
    learning rate and the stop for both, so both ranks take the same steps and end with the same weights."""
    from pathlib import Path

    run = tmp_path / "run"
    repo = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                           "-m", "tests.e2e.budget_worker", str(run), str(small_dataset), "0.5"],
                          capture_output=True, text=True, timeout=600, cwd=repo)
    assert done.returncode == 0, done.stderr[-3000:]
    ranks = [json.loads((run / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert ranks[0] == ranks[1]  # the same iterations per epoch and the same final learning rate
    (iterations,) = ranks[0]["iterations"]  # one epoch of 100 iterations, stopped mid-way by rank 0's budget
    assert 20 < iterations < 100
    weights = [torch.load(run / f"rank{r}.pt", weights_only=True) for r in (0, 1)]
    for key in weights[0]:
        torch.testing.assert_close(weights[1][key], weights[0][key], rtol=0, atol=0, msg=key)
