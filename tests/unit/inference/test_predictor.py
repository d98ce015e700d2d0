"""Inference writes masks where the tumour is, on the input's exact grid, for every geometry.

The network here is a fixed 1×1×1 convolution that thresholds normalised FLAIR (oedema is bright
on FLAIR), so the expected mask is known without training: the same rule applied straight to the
input array. Any flip, transpose or shift in the read → reorient → infer → invert → write chain
breaks the voxel-for-voxel agreement.
"""

import nibabel as nib
import numpy as np
import pytest
import torch

from medseg.bundle.find import find_bundle
from medseg.data.inputs import resolve_case
from medseg.data.synthetic import GEOMETRIES, make_phantom, save_phantom
from medseg.errors import CheckpointError, InputError
from medseg.evaluation import dice
from medseg.inference.predictor import Predictor
from medseg.transforms.volume import inference_transforms

MODALITIES = ["t1", "t1ce", "t2", "flair"]


def flair_threshold_network() -> torch.nn.Module:
    net = torch.nn.Conv3d(4, 3, kernel_size=1)
    with torch.no_grad():
        net.weight.zero_()
        net.weight[:, 3] = 4.0  # every channel: FLAIR z-score above 1.2
        net.bias.fill_(-4.8)
    return net


def _predictor(network=None, **kwargs) -> Predictor:
    schema = find_bundle("brain_tumor").schema
    return Predictor(network or flair_threshold_network(), schema, inference_transforms(), roi_size=(32, 32, 32),
                     modalities=MODALITIES, device="cpu", **kwargs)


@pytest.mark.parametrize("kind", GEOMETRIES)
def test_mask_lies_on_the_tumour_and_on_the_input_grid(tmp_path, kind):
    phantom = make_phantom(1, kind, spacing=3.0)  # a tumour off-centre on every axis
    save_phantom(phantom, tmp_path / "case", "case")
    case = resolve_case(tmp_path / "case", MODALITIES)
    (out,) = _predictor().predict_to_files(case, tmp_path / "out")

    written, reference = nib.load(out), nib.load(case.reference)
    assert written.shape == reference.shape
    np.testing.assert_allclose(written.affine, reference.affine, atol=1e-4)
    np.testing.assert_allclose(written.get_qform(), reference.get_qform(), atol=1e-4)
    assert written.header["qform_code"] == reference.header["qform_code"]
    assert written.header["sform_code"] == reference.header["sform_code"]
    assert written.get_data_dtype() == np.uint8

    mask = np.asarray(written.dataobj) > 0
    # the same voxelwise rule applied directly to the input array, with no transform chain at all
    flair = phantom.images["flair"]
    brain = flair > 0
    expected = brain & ((flair - flair[brain].mean()) / flair[brain].std() > 1.2)
    assert dice(mask, expected) > 0.999
    assert dice(mask, phantom.label > 0) > 0.7


def test_nan_voxels_are_refused(tmp_path):
    phantom = make_phantom(2, "ras", spacing=6.0)
    phantom.images["t2"][3, 3, 3] = np.nan
    save_phantom(phantom, tmp_path / "case", "case")
    with pytest.raises(InputError, match="case_t2.nii.gz: image contains NaN"):
        _predictor().predict(resolve_case(tmp_path / "case", MODALITIES))


def test_checkpoint_of_another_network_is_refused(tmp_path):
    path = tmp_path / "model.pt"
    torch.save(torch.nn.Conv3d(4, 5, 1).state_dict(), path)
    with pytest.raises(CheckpointError, match="model.pt: checkpoint does not fit"):
        _predictor(checkpoint=path)


def test_pickle_payload_checkpoint_is_refused_and_not_run(tmp_path):
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    path = tmp_path / "evil.pt"
    torch.save({"model": Payload()}, path)
    with pytest.raises(CheckpointError, match="refusing to load"):
        _predictor(checkpoint=path)
    assert not marker.exists()


def test_corrupt_checkpoint(tmp_path):
    path = tmp_path / "model.pt"
    path.write_bytes(b"\x00garbage")
    with pytest.raises(CheckpointError, match="model.pt: refusing to load"):
        _predictor(checkpoint=path)


@pytest.mark.parametrize(("norm", "window"), [("batch", (48, 64, 32)), ("instance", (32, 32, 32)),
                                              (("group", {"num_groups": 2}), (32, 32, 32))])
def test_one_pass_only_for_networks_whose_output_does_not_depend_on_the_window(norm, window):
    """Instance/group norm takes its statistics from the window: a whole volume in one pass is not what the
    network learnt on its patches, so those networks keep the training-sized sliding window."""
    from monai.networks.nets import UNet

    net = UNet(3, 4, 3, channels=(4, 8), strides=(2,), norm=norm)
    predictor = _predictor(net, whole_volume_voxels=10**6)
    assert predictor.window_for((40, 60, 20)) == window
