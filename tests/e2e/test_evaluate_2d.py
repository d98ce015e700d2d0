"""``medseg evaluate`` on 2D predictions: chest X-ray outputs scored against per-structure PNG masks."""

import json

import pytest
from click.testing import CliRunner

from medseg.cli import main
from tests.cli_helpers import override_args, run
from tests.xray_helpers import STRUCTURES, TINY_XRAY, write_structure_folder


@pytest.mark.slow
def test_evaluate_chest_xray_predictions_against_png_masks(tmp_path):
    """The X-ray path used to stop after inference (TypeError in evaluate); now it is scored by case id."""
    root = write_structure_folder(tmp_path / "scr", 5)
    manifest = tmp_path / "scr.json"
    assert run("data", "import-xray", root, "--output", manifest, "--test-fraction", 0.4).exit_code == 0
    tested = sorted(case["id"] for case in json.loads(manifest.read_text())["test"])
    overrides = override_args(TINY_XRAY)
    result = run("train", "chest_xray", "--data", manifest, "--output-dir", tmp_path / "run", "--epochs", 1,
                 "--device", "cpu", *overrides)
    assert result.exit_code == 0, result.output
    result = run("infer", tmp_path / "run", "--input", manifest, "--output-dir", tmp_path / "pred",
                 "--device", "cpu")
    assert result.exit_code == 0, result.output

    result = run("evaluate", "--pred", tmp_path / "pred", "--truth", manifest, "--bundle", "chest_xray", "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert document["cases"] == 2 and document["distance_units"] == "mm"
    assert [row["case"] for row in document["per_case"]] == tested
    assert set(STRUCTURES) <= set(document["summary"])  # each structure scored on its own mask (overlaps kept)
    for name in STRUCTURES:
        assert 0.0 <= document["summary"][name]["mean"] <= 1.0

    # pairs by case id: a case with a prediction but no truth is named
    (tmp_path / "pred" / f"{tested[0]}_seg.nii.gz").rename(tmp_path / "pred" / "stray_seg.nii.gz")
    result = CliRunner().invoke(main, ["evaluate", "--pred", str(tmp_path / "pred"), "--truth", str(manifest),
                                       "--bundle", "chest_xray"])
    assert result.exit_code == 1 and "no ground truth for predicted case(s) ['stray']" in result.output
