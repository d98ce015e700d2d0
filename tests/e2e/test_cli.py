"""End to end through the ``medseg`` CLI: train → infer → evaluate on tiny phantoms."""

import json
import subprocess
import sys

import nibabel as nib
import numpy as np
import pytest
from click.testing import CliRunner

from medseg.cli import main
from tests.cli_helpers import run
from tests.conftest import TINY


def _overrides():
    return [arg for key, value in TINY.items() for arg in ("--override", f"{key}={json.dumps(value)}")]


@pytest.mark.slow
def test_train_infer_evaluate(tiny_dataset, tmp_path):
    run_dir = tmp_path / "run"
    result = run("train", "brain_tumor", "--data", tiny_dataset, "--output-dir", run_dir, "--epochs", 2,
                 "--device", "cpu", *_overrides())
    assert result.exit_code == 0, result.output
    for name in ("configs/metadata.json", "configs/inference.json", "configs/train.json", "models/model.pt",
                 "metrics.csv", "curves.png", "LICENSE", "docs/README.md"):
        assert (run_dir / name).is_file(), name
    header = (run_dir / "metrics.csv").read_text().splitlines()[0].split(",")
    assert {"epoch", "train_loss", "dice_WT", "dice_TC", "dice_ET"} <= set(header)
    assert json.loads((run_dir / "configs/train.json").read_text())["epochs"] == 2

    result = run("infer", run_dir, "--input", tiny_dataset, "--output-dir", tmp_path / "pred", "--device", "cpu")
    assert result.exit_code == 0, result.output
    written = sorted((tmp_path / "pred").glob("*_seg.nii.gz"))
    assert len(written) == 4  # the manifest's held-out test cases
    for path in written:
        case = path.name.removesuffix("_seg.nii.gz")
        reference = nib.load(tiny_dataset.parent / case / f"{case}_t1.nii.gz")
        out = nib.load(path)
        assert out.shape == reference.shape
        np.testing.assert_allclose(out.affine, reference.affine, atol=1e-4)
        assert set(np.unique(np.asarray(out.dataobj))) <= {0, 1, 2, 4}

    result = run("evaluate", "--pred", tmp_path / "pred", "--truth", tiny_dataset, "--bundle", run_dir, "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["cases"] == 4
    assert set(summary["summary"]) >= {"WT", "TC", "ET", "enhancing tumour"}
    assert (tmp_path / "pred_evaluation.csv").is_file()  # beside the predictions, not among them
    assert not (tmp_path / "pred" / "evaluation.csv").exists()


def test_truth_against_itself_scores_one(tiny_dataset, tmp_path):
    pred = tmp_path / "pred"
    pred.mkdir()
    for folder in tiny_dataset.parent.glob("phantom_*"):
        (pred / f"{folder.name}_seg.nii.gz").write_bytes((folder / f"{folder.name}_seg.nii.gz").read_bytes())
    result = run("evaluate", "--pred", pred, "--truth", tiny_dataset.parent, "--bundle", "brain_tumor", "--json")
    assert result.exit_code == 0, result.output
    assert all(stats["mean"] == 1.0 for stats in json.loads(result.output)["summary"].values())


def test_monai_bundle_runner_runs_the_trained_run_directory(tiny_run, tiny_dataset, tmp_path):
    """The run directory is a real MONAI bundle: MONAI's own runner executes its inference config."""
    case = tiny_dataset.parent / "phantom_006_oblique"
    command = [
        sys.executable, "-m", "monai.bundle", "run",
        "--config_file", str(tiny_run / "configs" / "inference.json"),
        "--meta_file", str(tiny_run / "configs" / "metadata.json"),
        "--bundle_root", str(tiny_run), "--device", "cpu",
        "--input_paths", f"['{case}']", "--output_dir", str(tmp_path / "monai_out"),
    ]
    subprocess.run(command, check=True, capture_output=True, timeout=300)
    out = nib.load(tmp_path / "monai_out" / "phantom_006_oblique_seg.nii.gz")
    np.testing.assert_allclose(out.affine, nib.load(case / "phantom_006_oblique_t1.nii.gz").affine, atol=1e-4)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["infer", "no_such_bundle", "--input", "x", "--output-dir", "y"], "no_such_bundle: no bundle"),
        (["train", "brain_tumor", "--data", "missing.json", "--output-dir", "{tmp}/r"],
         "missing.json: manifest not found"),
        (["train", "brain_tumor", "--demo", "--override", "epoch=3", "--output-dir", "{tmp}/r"],
         "unknown --override key 'epoch'"),
        (["train", "brain_tumor", "--demo", "--device", "cuda", "--output-dir", "{tmp}/r"], "no CUDA GPU"),
    ],
)
def test_errors_are_one_line_without_traceback(tmp_path, monkeypatch, args, message):
    monkeypatch.setenv("MEDSEG_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr("medseg.data.synthetic.write_demo_dataset", lambda *a, **k: tmp_path / "none.json")
    result = CliRunner().invoke(main, [a.format(tmp=tmp_path) for a in args])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("medseg: error:") and message in lines[0], result.output
    assert "Traceback" not in result.output


def test_help_is_fast_and_does_not_import_torch():
    code = ("import sys; from medseg.cli import main; "
            "assert 'torch' not in sys.modules and 'monai' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    assert run("--help").exit_code == 0


def test_bundle_list_and_verify():
    assert "brain_tumor" in run("bundle", "list").output
    result = run("bundle", "verify", "brain_tumor")
    assert result.exit_code == 0 and "verified" in result.output
