"""A trained run records its data, states its own Dice, and keeps the post-processing chosen on validation."""

import csv
import json
import re

import pytest
from click.testing import CliRunner

from medseg.cli import main
from medseg.trust import is_trusted


def test_run_records_what_it_was_trained_on(tiny_run, tiny_dataset):
    record = json.loads((tiny_run / "training_data.json").read_text())
    assert record["manifest"] == str(tiny_dataset.resolve())
    assert len(record["manifest_sha256"]) == 64 and len(record["files_fingerprint"]) == 64
    manifest = json.loads(tiny_dataset.read_text())
    assert sorted(record["training"]) == sorted(e["id"] for e in manifest["training"])
    assert sorted(record["validation"]) == sorted(e["id"] for e in manifest["validation"])


def test_run_readme_states_its_own_validation_dice(tiny_run):
    readme = (tiny_run / "docs" / "README.md").read_text()
    bundle_figures = "0.978 ± 0.007"  # the bundle's own phantom figures
    assert bundle_figures not in readme
    assert "## Measured (this run)" in readme
    epoch = re.search(r"kept weights \(epoch (\d+)\)", readme).group(1)
    with open(tiny_run / "metrics.csv") as handle:
        kept = next(row for row in csv.DictReader(handle) if row["epoch"] == epoch)
    # the run's own validation Dice of the weights it kept, from its metrics.csv
    assert f"| {float(kept['dice_WT']):.3f} | {float(kept['dice_TC']):.3f} | {float(kept['dice_ET']):.3f} | " \
           f"{float(kept['dice_mean']):.3f} |" in readme


def test_postprocessing_choice_is_in_the_run_config_and_the_run_stays_sealed(tiny_run):
    config = json.loads((tiny_run / "configs" / "inference.json").read_text())
    choice = config["postprocessing_choice"]
    assert choice["cases"] == 2 and len(choice["candidates"]) == 24
    chosen = config["postprocessing"]["small_components"]
    assert chosen == ([choice["chosen"]] if choice["chosen"] else [])
    assert is_trusted(tiny_run)  # medseg resealed its own edit
    assert "## Post-processing (chosen on this run's validation cases)" in (tiny_run / "docs" / "README.md").read_text()


@pytest.mark.slow
def test_cli_ensembles_two_runs(tiny_run, tiny_dataset, tmp_path):
    manifest = json.loads(tiny_dataset.read_text())
    case = tiny_dataset.parent / manifest["test"][0]["image"][0]
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["infer", str(tiny_run), "--ensemble", str(tiny_run), "--input",
                                       str(case.parent), "--output-dir", str(out), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert (out / f"{case.parent.name}_seg.nii.gz").is_file()
