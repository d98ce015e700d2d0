"""A real BraTS case turned into a clinical study (sequences moved and re-gridded), then
``--register``: registration accuracy from the written .tfm files, the mask's grid, and agreement
with the mask of the original, already aligned case."""

import nibabel as nib
import numpy as np
import pytest
import SimpleITK as sitk

from medseg.data.inputs import resolve_case
from medseg.engine.infer import Predictor
from medseg.metrics import dice
from medseg.study import StudyOptions
from medseg.study.register import RegistrationSettings
from medseg.study.simulate import CLINICAL, brain_lattice, simulate_study, target_registration_error

CASE = "Brats18_2013_2_1"
MODALITIES = ["t1", "t1ce", "t2", "flair"]


@pytest.fixture(scope="module")
def registered(shared_data, tiny_run, tmp_path_factory):
    """The study (T1 sagittal 1.2 mm, T2 axial 3 mm, FLAIR axial 5 mm, each moved by 12–16° and
    19–22 mm), registered and segmented; and the original case segmented by the same weights."""
    root = tmp_path_factory.mktemp("study_real")
    truth = simulate_study(shared_data / "brats2018" / CASE, root / "study" / CASE)
    predictor = Predictor.from_bundle(tiny_run, device="cpu", overrides={"roi_size": [128, 128, 128],
                                                                          "sw_overlap": 0.25})
    options = StudyOptions(settings=RegistrationSettings(samples=20_000))  # fewer samples than the default
    from medseg.study.writers import StudyWriter

    predictor.writers.append(StudyWriter())
    predictor.predict_to_dir([root / "study" / CASE], root / "out", progress=False, study=options)
    original = predictor.predict(resolve_case(shared_data / "brats2018" / CASE, MODALITIES))
    return root, truth, original


@pytest.mark.real_data
@pytest.mark.slow
def test_written_transforms_have_sub_millimetre_registration_error(registered):
    root, truth, _ = registered
    reference = root / "study" / CASE / f"{CASE}_t1ce.nii.gz"
    points = brain_lattice(reference, step_mm=10.0)
    assert len(points) > 1000
    for sequence in CLINICAL:
        written = sitk.ReadTransform(str(root / "out" / f"{CASE}_{sequence}_to_t1ce.tfm"))
        error = target_registration_error(written, truth[sequence], points)
        assert np.median(error) <= 1.0, (sequence, np.median(error))
        assert error.max() <= 2.0, (sequence, error.max())


@pytest.mark.real_data
@pytest.mark.slow
def test_mask_lies_exactly_on_the_t1ce_grid(registered):
    root, _, _ = registered
    mask = nib.load(root / "out" / f"{CASE}_seg.nii.gz")
    t1ce = nib.load(root / "study" / CASE / f"{CASE}_t1ce.nii.gz")
    assert mask.shape == t1ce.shape
    assert np.array_equal(mask.affine, t1ce.affine)
    assert np.array_equal(mask.get_qform(), t1ce.get_qform()) and np.array_equal(mask.get_sform(), t1ce.get_sform())
    assert (mask.header["qform_code"], mask.header["sform_code"]) == (t1ce.header["qform_code"],
                                                                      t1ce.header["sform_code"])
    np.testing.assert_array_equal(mask.header.get_zooms(), t1ce.header.get_zooms())


@pytest.mark.real_data
@pytest.mark.slow
def test_mask_agrees_with_the_aligned_original_case(registered):
    root, _, original = registered
    mask = np.asarray(nib.load(root / "out" / f"{CASE}_seg.nii.gz").dataobj)
    assert mask.any()
    for name, values in (("WT", (1, 2, 4)), ("TC", (1, 4)), ("ET", (4,))):
        expected = np.isin(original.label, values)
        if expected.sum() > 1000:
            assert dice(np.isin(mask, values), expected) >= 0.95, name
