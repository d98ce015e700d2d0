"""A study without T1 and T2 is segmented on its own grid, and the missing sequences are named.

The network is the fixed FLAIR-threshold convolution of ``test_predictor.py``: it reads only the FLAIR
channel, so a study that lacks T1 and T2 must give exactly the mask of the complete study. A missing
channel filled in the wrong place (FLAIR shifted into T2's slot, say) would change the mask.
"""

import nibabel as nib
import numpy as np
import pytest
import torch

from medseg.bundle.find import find_bundle
from medseg.data.synthetic import make_phantom, save_phantom
from medseg.errors import BundleError, InputError, MedsegWarning
from medseg.inference.predictor import Predictor
from medseg.transforms.volume import inference_transforms

MODALITIES = ["t1", "t1ce", "t2", "flair"]


def flair_network() -> torch.nn.Module:
    net = torch.nn.Conv3d(4, 3, kernel_size=1)
    with torch.no_grad():
        net.weight.zero_()
        net.weight[:, 3] = 4.0
        net.bias.fill_(-4.8)
    return net


def _predictor(require_any=("t1ce", "flair"), network=None, **kwargs) -> Predictor:
    schema = find_bundle("brain_tumor").schema
    return Predictor(network or flair_network(), schema, inference_transforms(), roi_size=(32, 32, 32),
                     modalities=MODALITIES, device="cpu", require_any=require_any, **kwargs)


@pytest.fixture()
def studies(tmp_path):
    phantom = make_phantom(3, "oblique", spacing=4.0)
    save_phantom(phantom, tmp_path / "full", "full")
    save_phantom(phantom, tmp_path / "partial", "partial")
    for modality in ("t1", "t2"):
        (tmp_path / "partial" / f"partial_{modality}.nii.gz").unlink()
    return tmp_path / "full", tmp_path / "partial"


def test_t1ce_and_flair_only_is_segmented_on_its_grid_and_named(studies, tmp_path):
    full, partial = studies
    predictor = _predictor()
    with pytest.warns(MedsegWarning, match=r"partial: missing sequences t1, t2 \(segmented from t1ce, flair"):
        written = predictor.predict_to_dir([partial], tmp_path / "out", progress=False)
    mask_path = next(p for p in written if p.name == "partial_seg.nii.gz")
    mask, reference = nib.load(mask_path), nib.load(partial / "partial_t1ce.nii.gz")
    assert mask.shape == reference.shape
    np.testing.assert_allclose(mask.affine, reference.affine, atol=1e-5)
    assert mask.header["sform_code"] == reference.header["sform_code"]
    (complete,) = [p for p in predictor.predict_to_dir([full], tmp_path / "out_full", progress=False)
                   if p.name == "full_seg.nii.gz"]
    expected = np.asarray(nib.load(complete).dataobj)
    assert (expected > 0).sum() > 50
    np.testing.assert_array_equal(np.asarray(mask.dataobj), expected)


def test_measurements_and_evaluation_name_the_sequences(studies, tmp_path):
    import json

    from medseg.evaluation import evaluate_predictions
    from medseg.outputs.measurements import MeasurementWriter
    from medseg.outputs.nifti import NiftiLabelWriter

    _, partial = studies
    writers = [NiftiLabelWriter(), MeasurementWriter(plausibility={"structure": "WT"})]
    with pytest.warns(MedsegWarning):
        _predictor(writers=writers).predict_to_dir([partial], tmp_path / "out", progress=False)
    document = json.loads((tmp_path / "out" / "partial_measurements.json").read_text())
    assert document["sequences"] == ["t1ce", "flair"] and document["missing_sequences"] == ["t1", "t2"]
    assert document["sanity"]["lesion_ml"] > 0 and document["sanity"]["components"]["WT"] >= 1
    evaluation = evaluate_predictions(tmp_path / "out", partial, find_bundle("brain_tumor").schema, MODALITIES)
    assert evaluation.rows[0]["sequences"] == "t1ce+flair"
    assert "sequences" in evaluation.to_csv().splitlines()[0]


def test_unsupported_subsets_are_refused_with_the_missing_named(studies, tmp_path):
    full, partial = studies
    with pytest.raises(InputError, match="no file for modality 't1'"):
        _predictor(require_any=None).resolve_inputs([partial])  # a bundle that declares no subsets
    for modality in ("t1ce", "flair"):
        (full / f"full_{modality}.nii.gz").unlink()
    with pytest.raises(InputError, match="missing sequences t1ce, flair; the bundle needs any subset containing"):
        _predictor().resolve_inputs([full])


def test_ensemble_averages_probabilities_and_needs_one_schema(studies):
    full, _ = studies
    first, second = _predictor(), _predictor(network=flair_network())
    with torch.no_grad():
        second.network.bias.fill_(-2.0)  # a second "fold" that is more generous
    case = first.resolve_inputs([full])[0]
    expected = (first.grid_probabilities(case) + second.grid_probabilities(case)) / 2
    ensemble = _predictor().ensemble([second])
    np.testing.assert_allclose(ensemble.predict(case).probabilities, expected, atol=1e-6)

    other = _predictor()
    other.modalities = ["t1", "flair"]
    with pytest.raises(BundleError, match="other_run: cannot ensemble"):
        _predictor().ensemble([other], ["other_run"])


def test_a_clean_zoo_import_ensembles_with_a_brain_tumor_run_and_a_real_difference_is_named(tmp_path):
    from dataclasses import replace

    from medseg.bundle.zoo import import_zoo
    from medseg.labels import Channel
    from tests.zoo_helpers import write_zoo_weights, zoo_folder

    root = zoo_folder(tmp_path)
    write_zoo_weights(root)
    imported = import_zoo(root, tmp_path / "imported").root
    zoo = Predictor.from_bundle(imported, device="cpu")
    assert zoo.schema != _predictor().schema  # it differs (no lateral_labels, say), but not in its outputs
    assert _predictor().ensemble([zoo], [imported]).members == [zoo]

    other = _predictor()
    other.schema = replace(other.schema, channels=(Channel("WT", (1, 2, 4), 2), Channel("ET", (4,), 4),
                                                   Channel("TC", (1, 4), 1)))
    other.modalities = ["t1", "flair"]
    with pytest.raises(BundleError) as err:
        _predictor().ensemble([other], ["other_run"])
    message = str(err.value)
    assert "channels ['WT=1+2+4', 'ET=4', 'TC=1+4'] vs ['WT=1+2+4', 'TC=1+4', 'ET=4']" in message
    assert "modalities ['t1', 'flair'] vs ['t1', 't1ce', 't2', 'flair']" in message
    assert "labels" not in message  # only what differs is listed


def all_sequences_network() -> torch.nn.Module:
    """Reads every channel, so a sequence left out changes the output unless it is blanked exactly."""
    net = torch.nn.Conv3d(4, 3, kernel_size=1)
    with torch.no_grad():
        net.weight.copy_(torch.tensor([1.0, 0.5, -0.7, 3.0])[None, :, None, None, None].repeat(3, 1, 1, 1, 1))
        net.bias.fill_(-3.0)
    return net


def test_sequences_the_run_leaves_out_are_segmented_as_if_the_study_lacked_them(studies, tmp_path):
    import json

    from medseg.outputs.measurements import MeasurementWriter
    from medseg.outputs.nifti import NiftiLabelWriter

    full, partial = studies
    network = all_sequences_network()
    lacking = _predictor(network=network).resolve_inputs([partial])[0]
    with pytest.warns(MedsegWarning, match="missing sequences t1, t2"):
        expected = _predictor(network=network).predict(lacking)
    leaving_out = _predictor(network=network, ignore_modalities=["t2", "t1"],
                             writers=[NiftiLabelWriter(), MeasurementWriter(plausibility={"structure": "WT"})])
    case = leaving_out.resolve_inputs([full])[0]
    with pytest.warns(MedsegWarning, match=r"full: t1, t2 not used: this run's training cases rarely had them "
                                           r"\(segmented from t1ce, flair\)"):
        got = leaving_out.predict(case)
    np.testing.assert_allclose(got.probabilities, expected.probabilities, atol=1e-6)
    np.testing.assert_array_equal(got.label, expected.label)
    using_all = _predictor(network=network).predict(case).probabilities
    assert (got.label > 0).sum() > 50 and not np.allclose(using_all, got.probabilities, atol=1e-3)  # T1, T2 count
    with pytest.warns(MedsegWarning):
        written = leaving_out.predict_to_dir([full], tmp_path / "out", progress=False)
    mask = nib.load(next(p for p in written if p.name == "full_seg.nii.gz"))
    reference = nib.load(full / "full_t1.nii.gz")  # the study's own first sequence, read though not used
    assert mask.shape == reference.shape and mask.header["sform_code"] == reference.header["sform_code"]
    np.testing.assert_allclose(mask.affine, reference.affine, atol=1e-5)
    document = json.loads((tmp_path / "out" / "full_measurements.json").read_text())
    assert document["sequences"] == ["t1ce", "flair"] and document["unused_sequences"] == ["t1", "t2"]
    assert document["missing_sequences"] == []


def test_leaving_out_a_sequence_the_study_needs_is_refused_with_the_reason(studies):
    _, partial = studies
    (partial / "partial_t1ce.nii.gz").unlink()  # FLAIR alone, and the run does not use FLAIR
    predictor = _predictor(ignore_modalities=["flair"])
    with pytest.raises(InputError, match="this run does not use flair"):
        predictor.check_case(predictor.resolve_inputs([partial])[0])
    with pytest.raises(BundleError, match="only sequences a study may lack"):
        _predictor(require_any=None, ignore_modalities=["t1"])
    with pytest.raises(BundleError, match="only sequences a study may lack"):
        _predictor(ignore_modalities=["dwi"])
