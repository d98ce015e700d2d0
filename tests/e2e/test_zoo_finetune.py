"""`medseg train brain_tumor --init-from DIR`: start from a zoo bundle's imported weights (same network only)."""

from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner

import medseg
from medseg.bundle.zoo import import_zoo
from medseg.cli import main
from tests.zoo_helpers import write_zoo_weights, zoo_folder

SMALL = {"init_filters": 8, "blocks_down": [1, 1], "blocks_up": [1]}  # the zoo's SegResNet, shrunk for CPU tests
FAST = {"patch_size": [32, 32, 32], "roi_size": [48, 48, 48], "batch_size": 2, "samples_per_case": 1,
        "val_interval": 1, "iterations_per_epoch": None}  # one pass per epoch, not the plan's iterations


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("zoo_finetune")
    zoo = zoo_folder(tmp, network=SMALL)
    write_zoo_weights(zoo)
    return import_zoo(zoo, tmp / "bt_zoo").root


@pytest.mark.slow
def test_training_starts_from_the_imported_weights(imported, tiny_dataset, tmp_path):
    network_def = json.loads((imported / "configs" / "inference.json").read_text())["network_def"]
    # learning rate 0: the trained model must be exactly the weights it started from
    result = medseg.train("brain_tumor", data=tiny_dataset, output_dir=tmp_path / "run", epochs=1, device="cpu",
                          overrides={"network_def": network_def, "learning_rate": 0.0, **FAST}, progress=False,
                          init_from=imported, plan=False)
    trained = torch.load(result.run_dir / "models" / "model.pt", weights_only=True)
    start = torch.load(imported / "models" / "model.pt", weights_only=True)
    assert trained.keys() == start.keys()
    assert all(torch.equal(trained[key], start[key]) for key in start)


def test_another_network_is_refused_in_one_line_and_leaves_no_run(imported, tiny_dataset, tmp_path):
    run = tmp_path / "run"
    result = CliRunner().invoke(main, ["train", "brain_tumor", "--data", str(tiny_dataset), "--output-dir", str(run),
                                       "--epochs", "1", "--device", "cpu", "--no-plan", "--init-from", str(imported)])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert lines[-1].startswith("medseg: error: ") and "--init-from: these weights are for another network" in lines[-1]
    assert not run.exists()


def test_a_bundle_with_other_channels_is_refused(tiny_dataset, tmp_path):
    zoo = zoo_folder(tmp_path / "zoo", network=SMALL)
    write_zoo_weights(zoo)
    unknown = zoo.rename(zoo.parent / "some_other_model")
    meta = json.loads((unknown / "configs" / "metadata.json").read_text())
    meta["name"] = "Some other model"
    (unknown / "configs" / "metadata.json").write_text(json.dumps(meta))
    other = import_zoo(unknown, tmp_path / "other").root  # guessed: zoo channel order and names
    with pytest.raises(medseg.errors.InputError, match="--init-from: its inputs/outputs"):
        medseg.train("brain_tumor", data=tiny_dataset, output_dir=tmp_path / "run", epochs=1, device="cpu",
                     init_from=other, progress=False, plan=False)
