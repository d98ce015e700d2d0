"""A DICOM series folder as a training image: imported, checked against its NIfTI label, trained."""

import json
import warnings

import nibabel as nib
import numpy as np
import pytest

from medseg.bundle.create import new_bundle
from medseg.errors import MedsegWarning
from tests.cli_helpers import override_args, run


@pytest.mark.slow
@pytest.mark.real_data
def test_dicom_series_trains_with_a_label_on_its_grid(shared_data, tmp_path, monkeypatch):
    monkeypatch.setenv("MEDSEG_CACHE", str(tmp_path / "cache"))
    ct = shared_data / "dicom" / "ct_totalseg_example"
    # A one-label 3D bundle, made from a throwaway NIfTI pair.
    for folder in ("vols", "segs"):
        (tmp_path / folder).mkdir()
    seg = np.zeros((16, 16, 8), np.uint8)
    seg[4:10, 4:10, 2:6] = 1
    nib.save(nib.Nifti1Image(np.random.default_rng(0).random(seg.shape).astype(np.float32), np.eye(4)),
             tmp_path / "vols" / "v.nii.gz")
    nib.save(nib.Nifti1Image(seg, np.eye(4)), tmp_path / "segs" / "v.nii.gz")
    bundle = new_bundle("organs", tmp_path / "vols", tmp_path / "segs", ["organ"], output=tmp_path / "organs").root

    # The DICOM series as the image, the companion prediction (binarised) as its label.
    (tmp_path / "data" / "images").mkdir(parents=True)
    (tmp_path / "data" / "labels").mkdir()
    (tmp_path / "data" / "images" / "ct1").symlink_to(ct / "series", target_is_directory=True)
    companion = nib.load(ct / "example_seg_dicom_MODEL_PREDICTION.nii.gz")
    binary = (np.asarray(companion.dataobj) > 0).astype(np.uint8)
    nib.save(nib.Nifti1Image(binary, companion.affine, companion.header), tmp_path / "data" / "labels" / "ct1.nii.gz")
    manifest = tmp_path / "ct.json"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MedsegWarning)
        assert run("data", "import", "folder", tmp_path / "data", "--task", bundle, "--output", manifest).exit_code == 0
        assert json.loads(manifest.read_text())["training"][0]["image"] == ["images/ct1"]
        result = run("data", "check", manifest, "--bundle", bundle, "--deep")
        assert result.exit_code == 0, result.output
        tiny = {"patch_size": [32, 32, 16], "roi_size": [128, 128, 32], "network_def#channels": [4, 8],
                "network_def#strides": [2], "samples_per_case": 1, "batch_size": 1,
                "cache_dir": str(tmp_path / "cache" / "pre")}
        args = override_args(tiny)
        result = run("train", bundle, "--data", manifest, "--output-dir", tmp_path / "run", "--epochs", 1,
                     "--device", "cpu", "--no-plan", *args)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "run" / "models" / "model.pt").is_file()
