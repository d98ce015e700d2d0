"""Exported networks give PyTorch's logits; a zipped run segments like the run folder."""

import zipfile

import numpy as np
import pytest
import torch

from medseg.bundle.export import _load_network, export_network, zip_bundle
from medseg.bundle.find import find_bundle
from medseg.data.inputs import resolve_case
from medseg.errors import BundleError
from medseg.inference.predictor import Predictor


def _reference_and_input(run, shape_scale=(1, 1, 1)):
    network, roi, channels = _load_network(find_bundle(run))
    shape = (2, channels, *(r * s for r, s in zip(roi, shape_scale)))
    x = torch.randn(shape, generator=torch.Generator().manual_seed(7))
    with torch.inference_mode():
        return network(x).numpy(), x


@pytest.mark.slow
def test_torchscript_matches_pytorch(tiny_run, tmp_path):
    result = export_network(tiny_run, "torchscript", tmp_path / "model.ts")
    assert result.within_tolerance and result.max_abs_diff < 1e-4
    reference, x = _reference_and_input(tiny_run)
    with torch.inference_mode():
        np.testing.assert_allclose(torch.jit.load(str(result.path))(x).numpy(), reference, atol=1e-4, rtol=1e-4)


@pytest.mark.slow
def test_onnx_matches_pytorch_on_another_batch_and_size(tiny_run, tmp_path):
    import onnxruntime

    result = export_network(tiny_run, "onnx", tmp_path / "model.onnx")
    assert result.within_tolerance
    reference, x = _reference_and_input(tiny_run, shape_scale=(1, 2, 1))  # dynamic batch and spatial size
    session = onnxruntime.InferenceSession(str(result.path), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(session.run(None, {"image": x.numpy()})[0], reference, atol=1e-4, rtol=1e-4)


@pytest.mark.slow
def test_zipped_run_segments_like_the_run(tiny_run, tiny_dataset, tmp_path, monkeypatch):
    monkeypatch.setenv("MEDSEG_CACHE", str(tmp_path / "cache"))
    archive = zip_bundle(tiny_run, tmp_path / "shared" / "model.zip")
    names = zipfile.ZipFile(archive).namelist()
    assert "tiny/models/model.pt" in names and not any("checkpoint_last" in n for n in names)
    case = tiny_dataset.parent / "phantom_009_lps"
    inputs = resolve_case(case, find_bundle(tiny_run).modalities)
    original = Predictor.from_bundle(tiny_run, device="cpu").predict(inputs)
    unzipped = Predictor.from_bundle(archive, device="cpu").predict(inputs)
    np.testing.assert_array_equal(unzipped.label, original.label)
    assert find_bundle(archive).root.is_relative_to(tmp_path / "cache")


def test_zip_escaping_its_folder_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("MEDSEG_CACHE", str(tmp_path / "cache"))
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        handle.writestr("../outside/configs/metadata.json", "{}")
    with pytest.raises(BundleError, match="refusing to extract"):
        find_bundle(archive)
    assert not (tmp_path / "outside").exists()
