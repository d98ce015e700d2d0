"""A trained run records its data, states its own Dice, and keeps the post-processing chosen on validation."""

import csv
import json
import re

import pytest
from click.testing import CliRunner

from medseg.bundle.trust import is_trusted
from medseg.cli import main


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
    readme = (tiny_run / "docs" / "README.md").read_text()
    assert "## Post-processing (chosen on this run's validation cases)" in readme
    sizes = choice["sizes"]  # over-segmentation on validation: predicted/true volume and pieces per region
    assert {r["case"] for r in sizes} == set(choice["validation_cases"]) and {r["structure"] for r in sizes} == \
        {"WT", "TC", "ET"}
    wt = next(r for r in sizes if r["structure"] == "WT")
    assert wt["volume_ratio"] == round(wt["predicted_voxels"] / max(wt["true_voxels"], 1), 3)
    assert f"| {wt['case']} | WT | {wt['volume_ratio']:.2f} (" in readme


@pytest.mark.slow
def test_cli_ensembles_two_runs(tiny_run, tiny_dataset, tmp_path):
    manifest = json.loads(tiny_dataset.read_text())
    case = tiny_dataset.parent / manifest["test"][0]["image"][0]
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["infer", str(tiny_run), "--ensemble", str(tiny_run), "--input",
                                       str(case.parent), "--output-dir", str(out), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert (out / f"{case.parent.name}_seg.nii.gz").is_file()


def _copy_run(tiny_run, tmp_path):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    return run, run / "configs" / "inference.json"


def test_a_second_choice_replaces_the_first_and_keeps_the_users_rules(tiny_run, tmp_path):
    from medseg.bundle.trust import seal
    from medseg.inference.postprocessing_search import choose_postprocessing

    first = json.loads((tiny_run / "configs" / "inference.json").read_text())["postprocessing_choice"]
    assert first["baseline_dice"] > 0  # the tiny run finds some tumour, so wiping it (below) would change the score
    run, path = _copy_run(tiny_run, tmp_path)
    config = json.loads(path.read_text())
    users = {"structure": "ET", "min_voxels": 1, "replace_with": 1, "per": "component"}
    earlier = {"structure": "WT", "min_voxels": 10**9, "replace_with": 0, "per": "total"}  # wipes every prediction
    config["postprocessing"]["small_components"] = [users, earlier]
    config["postprocessing_choice"] = {**first, "chosen": earlier}
    path.write_text(json.dumps(config))
    seal(run)
    again = choose_postprocessing(run, device="cpu")
    assert again["baseline_dice"] == first["baseline_dice"]  # scored without the earlier choice, as the first time
    assert again["chosen"] == first["chosen"]
    rules = json.loads(path.read_text())["postprocessing"]["small_components"]
    assert rules == [users] + ([first["chosen"]] if first["chosen"] else [])
    readme = (run / "docs" / "README.md").read_text()
    assert readme.count("## Post-processing (chosen on this run's validation cases)") == 1
    assert is_trusted(run)


def test_resuming_an_unsealed_run_with_trust_chooses_without_sealing_it(tiny_run, tmp_path):
    import medseg
    from medseg.errors import BundleError

    run, path = _copy_run(tiny_run, tmp_path)
    (run / "configs" / ".medseg-seal").unlink()  # a colleague's run: trusted once, not sealed by this user
    with pytest.raises(BundleError, match="--trust"):
        medseg.train(resume=run, device="cpu", progress=False)
    result = medseg.train(resume=run, device="cpu", progress=False, trust=True)  # nothing left to train: chooses
    assert result.run_dir == run
    assert "postprocessing_choice" in json.loads(path.read_text())
    assert not is_trusted(run)  # a one-time --trust did not become a seal
