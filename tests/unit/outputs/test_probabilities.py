"""Probabilities come out channels-last on the input grid; exclusive classes sum to 1."""

import nibabel as nib
import numpy as np
import pytest
import torch

from medseg.data.inputs import resolve_case
from medseg.data.synthetic import make_phantom, save_phantom
from medseg.inference.predictor import Predictor
from medseg.labels import LabelSchema
from medseg.outputs.nifti import NiftiLabelWriter
from medseg.outputs.probabilities import ProbabilityWriter
from medseg.transforms.volume import inference_transforms

MODALITIES = ["t1", "t1ce", "t2", "flair"]
EXCLUSIVE = LabelSchema.from_metadata({"medseg": {"mode": "exclusive", "labels": [
    {"name": "a", "value": 1, "color": [255, 0, 0]}, {"name": "b", "value": 2, "color": [0, 255, 0]},
    {"name": "c", "value": 4, "color": [0, 0, 255]}]}})


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    folder = tmp_path_factory.mktemp("prob")
    save_phantom(make_phantom(5, "oblique", spacing=6.0), folder / "case", "case")
    return resolve_case(folder / "case", MODALITIES)


@pytest.mark.parametrize("encoding", ["uint8", "float16"])
def test_exclusive_probabilities_sum_to_one_on_the_input_grid(tmp_path, case, encoding):
    torch.manual_seed(0)
    network = torch.nn.Conv3d(4, 4, kernel_size=1)
    writers = [NiftiLabelWriter(), ProbabilityWriter(encoding)]
    predictor = Predictor(network, EXCLUSIVE, inference_transforms(), roi_size=(16, 16, 16),
                          modalities=MODALITIES, device="cpu", writers=writers)
    label_path, prob_path = predictor.predict_to_files(case, tmp_path)
    reference = nib.load(case.reference)
    if encoding == "uint8":
        image = nib.load(prob_path)
        probabilities = image.get_fdata()
        np.testing.assert_allclose(image.affine, reference.affine, atol=1e-6)
        assert image.get_data_dtype() == np.uint8
        tolerance = 4 * 0.5 / 255  # four channels, each rounded to the nearest 1/255
    else:
        stored = np.load(prob_path)
        probabilities = stored["probabilities"].astype(np.float32)
        assert stored["probabilities"].dtype == np.float16
        np.testing.assert_allclose(stored["affine"], reference.affine, atol=1e-6)
        assert list(stored["channels"]) == ["background", "a", "b", "c"]
        tolerance = 4e-3
    assert probabilities.shape == (*reference.shape, 4)
    np.testing.assert_allclose(probabilities.sum(-1), 1.0, atol=tolerance)
    assert probabilities.std() > 0.01  # a real, varying prediction
    # the written label is the argmax of the written probabilities, wherever the argmax is clear
    label = np.asarray(nib.load(label_path).dataobj)
    top2 = np.sort(probabilities, -1)[..., -2:]
    clear = top2[..., 1] - top2[..., 0] > 2 * tolerance
    lut = np.array([0, 1, 2, 4])
    np.testing.assert_array_equal(label[clear], lut[probabilities.argmax(-1)][clear])


def test_two_d_probabilities_are_x_y_1_c_and_scaled_as_stated(tmp_path):
    from medseg.outputs.probabilities import write_probabilities

    reference = tmp_path / "cxr.nii.gz"
    nib.save(nib.Nifti1Image(np.zeros((6, 5, 1), np.float32), np.diag([0.2, 0.2, 1.0, 1.0])), reference)
    p = np.random.default_rng(0).random((2, 6, 5)).astype(np.float32)
    out = write_probabilities(p, reference, tmp_path / "p.nii.gz", ("lung", "heart"))
    image = nib.load(out)
    assert image.shape == (6, 5, 1, 2) and image.get_data_dtype() == np.uint8
    assert b"1/255" in image.header["descrip"].tobytes()
    np.testing.assert_allclose(image.get_fdata()[:, :, 0, :], np.moveaxis(p, 0, -1), atol=0.5 / 255 + 1e-6)
    np.testing.assert_array_equal(np.asarray(image.dataobj.get_unscaled())[:, :, 0, 1], np.rint(p[1] * 255))
