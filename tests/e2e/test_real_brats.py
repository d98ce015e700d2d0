"""Real BraTS 2018 cases (../shared/data/brats2018): geometry and scoring on real files."""

import json

import nibabel as nib
import numpy as np
import pytest
from click.testing import CliRunner

from medseg.cli import main
from medseg.data.inputs import resolve_case
from medseg.inference.predictor import Predictor
from medseg.io.checks import check_case_headers

MODALITIES = ["t1", "t1ce", "t2", "flair"]
CASES = ["Brats18_2013_2_1", "Brats18_TCIA05_396_1"]


@pytest.fixture(scope="module")
def brats(shared_data):
    return shared_data / "brats2018"


@pytest.mark.real_data
def test_four_modalities_are_found_and_share_a_grid(brats):
    for case_id in CASES:
        case = resolve_case(brats / case_id, MODALITIES)
        assert [p.name for p in case.images] == [f"{case_id}_{m}.nii.gz" for m in MODALITIES]
        assert check_case_headers(case, 4) == (240, 240, 155)


@pytest.mark.real_data
@pytest.mark.slow
def test_inference_writes_a_mask_on_the_exact_input_grid(brats, tiny_run, tmp_path):
    predictor = Predictor.from_bundle(tiny_run, device="cpu", overrides={"roi_size": [128, 128, 128],
                                                                          "sw_overlap": 0.25})
    case = resolve_case(brats / CASES[0], MODALITIES)
    out = nib.load(predictor.predict_to_files(case, tmp_path)[0])
    reference = nib.load(case.reference)
    assert out.shape == reference.shape == (240, 240, 155)
    np.testing.assert_allclose(out.affine, reference.affine, atol=1e-4)
    np.testing.assert_allclose(out.get_qform(), reference.get_qform(), atol=1e-4)
    np.testing.assert_allclose(out.get_sform(), reference.get_sform(), atol=1e-4)
    assert out.header["qform_code"] == reference.header["qform_code"]
    assert out.header["sform_code"] == reference.header["sform_code"]
    assert out.get_data_dtype() == np.uint8
    assert set(np.unique(np.asarray(out.dataobj))) <= {0, 1, 2, 4}


@pytest.mark.real_data
def test_ground_truth_against_itself_scores_one(brats, tmp_path):
    for case_id in CASES:
        (tmp_path / f"{case_id}_seg.nii.gz").write_bytes((brats / case_id / f"{case_id}_seg.nii.gz").read_bytes())
    result = CliRunner().invoke(main, ["evaluate", "--pred", str(tmp_path), "--truth", str(brats),
                                       "--bundle", "brain_tumor", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["cases"] == 2
    assert {name: stats["mean"] for name, stats in summary["summary"].items()} == {
        "necrotic tumour core": 1.0, "peritumoral oedema": 1.0, "enhancing tumour": 1.0,
        "WT": 1.0, "TC": 1.0, "ET": 1.0}
