"""`medseg bundle import-zoo` then `medseg infer`: the zoo's real configs with weights built here.

The weights route zoo input T1c to output TC, T1 to WT and FLAIR to ET (``tests/zoo_helpers.py``), so
a case whose sequences are each bright in their own cube shows where every sequence went and which
label every output channel became.
"""

from __future__ import annotations

import json
import shutil

import nibabel as nib
import numpy as np
import pytest
import torch
from click.testing import CliRunner

from medseg.cli import main
from tests.zoo_helpers import (
    FIXTURES,
    build_zoo_network,
    expected_labels,
    write_cube_case,
    write_zoo_weights,
    zoo_folder,
)


def _run(*args: str) -> str:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def _oblique(spacing: float = 1.2, degrees: float = 20.0) -> np.ndarray:
    t = np.deg2rad(degrees)
    affine = np.eye(4)
    affine[:3, :3] = np.array([[np.cos(t), -np.sin(t), 0], [np.sin(t), np.cos(t), 0], [0, 0, 1]]) * spacing
    affine[:3, 3] = [-30.0, 12.0, 5.0]
    return affine


def _same_grid(out: nib.Nifti1Image, reference: nib.Nifti1Image) -> None:
    assert out.shape == reference.shape
    np.testing.assert_allclose(out.affine, reference.affine, atol=1e-4)
    np.testing.assert_allclose(out.get_qform(), reference.get_qform(), atol=1e-4)
    np.testing.assert_allclose(out.get_sform(), reference.get_sform(), atol=1e-4)
    assert int(out.header["qform_code"]) == int(reference.header["qform_code"])
    assert int(out.header["sform_code"]) == int(reference.header["sform_code"])


@pytest.mark.parametrize("affine", [np.diag([1.0, 1.0, 1.0, 1.0]), np.diag([-1.0, -1.0, 1.5, 1.0]), _oblique()],
                         ids=["ras", "lps", "oblique"])
def test_each_sequence_reaches_its_zoo_channel_and_each_output_lands_as_its_brats_label(tmp_path, affine):
    zoo = zoo_folder(tmp_path / "zoo")
    write_zoo_weights(zoo)
    output = _run("bundle", "import-zoo", str(zoo), "--output", str(tmp_path / "bt_zoo"))
    assert "monai.networks.nets.SegResNet" in output and "$@evaluator.run()" in output
    case = write_cube_case(tmp_path / "case01", affine)
    _run("infer", str(tmp_path / "bt_zoo"), "--input", str(case), "--output-dir", str(tmp_path / "pred"),
         "--device", "cpu")
    out = nib.load(tmp_path / "pred" / "case01_seg.nii.gz")
    _same_grid(out, nib.load(case / "case01_t1.nii.gz"))
    np.testing.assert_array_equal(np.asarray(out.dataobj), expected_labels())
    truth = tmp_path / "truth"  # evaluate takes the imported bundle's label schema: every label and region scores 1
    truth.mkdir()
    nib.save(nib.Nifti1Image(expected_labels(), affine), truth / "case01_seg.nii.gz")
    summary = json.loads(_run("evaluate", "--pred", str(tmp_path / "pred"), "--truth", str(truth),
                              "--bundle", str(tmp_path / "bt_zoo"), "--json"))
    assert {name: stats["mean"] for name, stats in summary["summary"].items()} == {
        "necrotic tumour core": 1.0, "peritumoral oedema": 1.0, "enhancing tumour": 1.0, "WT": 1.0, "TC": 1.0,
        "ET": 1.0}


@pytest.mark.real_data
@pytest.mark.slow
def test_infer_on_real_brats_writes_masks_slicer_segments_and_measurements(shared_data, tmp_path):
    # the zoo's configs with the SegResNet shrunk (8 filters, one level) so a 240x240x155 case runs in
    # seconds on CPU; the imported pipeline is the same as with the zoo's full network
    zoo = zoo_folder(tmp_path / "zoo", network={"init_filters": 8, "blocks_down": [1], "blocks_up": []})
    write_zoo_weights(zoo)
    _run("bundle", "import-zoo", str(zoo), "--output", str(tmp_path / "bt_zoo"))
    case = shared_data / "brats2018" / "Brats18_2013_2_1"
    _run("infer", str(tmp_path / "bt_zoo"), "--input", str(case), "--output-dir", str(tmp_path / "pred"),
         "--device", "cpu")
    pred = tmp_path / "pred"
    out = nib.load(pred / "Brats18_2013_2_1_seg.nii.gz")
    _same_grid(out, nib.load(case / "Brats18_2013_2_1_t1.nii.gz"))
    labels = np.asarray(out.dataobj)
    assert set(np.unique(labels)) <= {0, 1, 2, 4} and (labels > 0).any()
    # the routed weights mark the brightest FLAIR voxels as ET (label 4), and only inside the head
    flair = np.asarray(nib.load(case / "Brats18_2013_2_1_flair.nii.gz").dataobj)
    assert (labels == 4).any() and flair[labels == 4].mean() > flair[flair > 0].mean()
    assert not labels[flair == 0].any()
    assert (pred / "Brats18_2013_2_1.seg.nrrd").is_file()
    measurements = json.loads((pred / "Brats18_2013_2_1_measurements.json").read_text())
    assert measurements and (pred / "Brats18_2013_2_1_measurements.csv").is_file()
    assert _run("report", str(pred)).strip().endswith("index.html")
    zipped = _run("bundle", "export", str(tmp_path / "bt_zoo"), "--format", "zip").strip()
    assert zipped.endswith(".zip")


@pytest.mark.real_data
def test_spleen_ct_keeps_the_zoo_resampling_and_writes_on_the_ct_grid(shared_data, tmp_path):
    zoo = tmp_path / "spleen_ct_segmentation"
    shutil.copytree(FIXTURES / "spleen_ct_segmentation", zoo)
    torch.manual_seed(0)
    (zoo / "models").mkdir()
    torch.save(build_zoo_network(zoo).state_dict(), zoo / "models" / "model.pt")  # random weights: geometry only
    _run("bundle", "import-zoo", str(zoo), "--output", str(tmp_path / "spleen"))
    config = json.loads((tmp_path / "spleen" / "configs" / "inference.json").read_text())
    assert [step["_target_"].rsplit(".", 1)[-1] for step in config["preprocessing"]["steps"]] == [
        "Orientationd", "Spacingd", "ScaleIntensityRanged"]
    assert config["preprocessing"]["steps"][1]["pixdim"] == [1.5, 1.5, 2.0]
    ct = shared_data / "msd_spleen_crop" / "sub-spleen2_ct.nii.gz"
    _run("infer", str(tmp_path / "spleen"), "--input", str(ct), "--output-dir", str(tmp_path / "pred"),
         "--device", "cpu")
    out = nib.load(tmp_path / "pred" / "sub-spleen2_seg.nii.gz")
    _same_grid(out, nib.load(ct))
    assert set(np.unique(np.asarray(out.dataobj))) <= {0, 1}
    assert (tmp_path / "pred" / "sub-spleen2.seg.nrrd").is_file()


# MONAI's download replaced by a copy of the fixture that logs through MONAI's own logger, as the real one does
FAKE_DOWNLOAD = """
import shutil, sys
import monai.bundle
from monai.bundle.scripts import logger

def download(name, version, bundle_dir, **kwargs):
    logger.info("--- input summary of monai.bundle.scripts.download ---")
    shutil.copytree(sys.argv[1], f"{bundle_dir}/{name}")

monai.bundle.download = download
from medseg.cli import main
main(sys.argv[2:])
"""


@pytest.mark.parametrize("debug", [False, True])
def test_import_zoo_by_name_prints_monai_log_lines_only_with_debug(tmp_path, debug):
    """A real process, so MONAI's own stdout handler is the one that would print (no internet: a fake download)."""
    import subprocess
    import sys

    zoo = zoo_folder(tmp_path / "zoo")
    write_zoo_weights(zoo)
    command = [sys.executable, "-c", FAKE_DOWNLOAD, str(zoo), *(["--debug"] if debug else []), "bundle", "import-zoo",
               "brats_mri_segmentation", "--output", str(tmp_path / "models" / "brats_zoo")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert (" - INFO - --- input summary" in done.stdout) == debug, done.stdout  # MONAI: "<time> - INFO - <msg>"
    assert "input summary" not in done.stderr
