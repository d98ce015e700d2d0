"""`medseg plan` uses its planning options or refuses them in one line: none is dropped without a word."""

import json

import numpy as np
import pytest

from tests.cli_helpers import run


@pytest.fixture(scope="module")
def planar_bundle(tmp_path_factory):
    from PIL import Image

    from medseg.bundle.create import new_bundle

    root = tmp_path_factory.mktemp("planar")
    rng = np.random.default_rng(0)
    for case in ("a", "b"):
        (root / "images").mkdir(exist_ok=True)
        (root / "masks").mkdir(exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (32, 32)).astype(np.uint8)).save(root / "images" / f"{case}.png")
        mask = np.zeros((32, 32), np.uint8)
        mask[8:20, 8:20] = 255
        Image.fromarray(mask).save(root / "masks" / f"{case}.png")
    return new_bundle("cells", root / "images", root / "masks", ["cell"], output=root / "cells").root


@pytest.mark.parametrize("extra, named", [
    (["--time-limit", "5"], "--time-limit"),
    (["--device", "cpu", "--gpu-memory-gb", "8"], "--device, --gpu-memory-gb"),
    (["--data", "other.json"], "--data"),
])
def test_a_2d_bundle_refuses_planning_options_in_one_line(planar_bundle, extra, named):
    result = run("plan", planar_bundle, *extra)
    assert result.exit_code == 2
    line, = result.output.strip().splitlines()
    assert line.startswith(f"medseg: error: {named}: not used: cells keeps the 2D plan")
    assert ("give --time-limit to medseg train" in line) == ("--time-limit" in named)


def test_a_2d_bundle_without_options_shows_its_stored_plan(planar_bundle):
    result = run("plan", planar_bundle, "--json")
    assert result.exit_code == 0
    assert json.loads(result.output)["patch_size"]


def test_a_bundle_that_does_not_plan_refuses_them_and_answers_json():
    result = run("plan", "chest_xray", "--time-limit", "10", "--data", "x.json")
    assert result.exit_code == 2
    assert "--data, --time-limit: not used: chest_xray does not plan" in result.output
    result = run("plan", "chest_xray", "--json")
    assert result.exit_code == 0
    document = json.loads(result.output)
    assert document["plan"] is None and document["recipe"][0].startswith("chest_xray: no plan")


def test_train_refuses_gpu_memory_for_a_run_it_does_not_plan(planar_bundle, tmp_path):
    manifest = tmp_path / "m.json"
    manifest.write_text("{}")
    for args in ([planar_bundle], ["brain_tumor", "--data", manifest, "--no-plan"]):
        result = run("train", *args, "--gpu-memory-gb", "8", "--device", "cpu", "--output-dir", tmp_path / "run")
        assert result.exit_code == 1
        assert "--gpu-memory-gb sizes a plan, and this run of" in result.output
        assert not (tmp_path / "run").exists()
