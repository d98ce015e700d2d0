"""The report of a registered study: each sequence on the reference grid with the mask outlined."""

import json

import nibabel as nib
import numpy as np

from medseg.outputs.report import build_report


def test_registered_study_gets_an_outline_figure_and_a_registration_table(tmp_path):
    affine = np.diag([2.0, 2.0, 2.0, 1.0])
    rng = np.random.default_rng(0)
    for name in ("t1ce", "flair_on_t1ce"):
        nib.save(nib.Nifti1Image(rng.random((20, 20, 12)).astype(np.float32), affine), tmp_path / f"c_{name}.nii.gz")
    label = np.zeros((20, 20, 12), np.uint8)
    label[8:12, 8:12, 5:8] = 2
    nib.save(nib.Nifti1Image(label, affine), tmp_path / "c_seg.nii.gz")
    document = {
        "case": "c", "image": str(tmp_path / "c_t1ce.nii.gz"), "coordinates": "RAS mm",
        "labels": [{"name": "oedema", "value": 2, "color": [0, 200, 0]}],
        "structures": [{"structure": "oedema", "values": [2], "voxels": 48, "volume_ml": 0.384,
                        "centroid_ras": [0, 0, 0], "bbox_min_ras": [0, 0, 0], "bbox_max_ras": [1, 1, 1]}],
        "registration": {"reference": "t1ce", "reference_series": "c_t1ce.nii.gz", "sequences": {
            "t1ce": {"series": "c_t1ce.nii.gz", "aligned": str(tmp_path / "c_t1ce.nii.gz")},
            "flair": {"series": "ax flair", "aligned": "c_flair_on_t1ce.nii.gz", "transform": "c_flair_to_t1ce.tfm",
                      "final_metric_mattes_mi": -0.6, "rotation_deg": 12.5, "shift_mm": 20.1}}},
    }
    (tmp_path / "c_measurements.json").write_text(json.dumps(document))
    page = build_report(tmp_path).read_text()
    assert "c_registration.png" in page and "c_flair_to_t1ce.tfm" in page and "-0.6000" in page
    assert (tmp_path / "report" / "c_registration.png").stat().st_size > 1000
