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
from tests.study_helpers import tumour_rule_network

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
    predictor.network = tumour_rule_network()  # the same weights for the study and the original case
    options = StudyOptions(settings=RegistrationSettings(samples=20_000))  # fewer samples than the default

    predictor.predict_to_dir([root / "study" / CASE], root / "out", progress=False, study=options)
    original = predictor.predict(resolve_case(shared_data / "brats2018" / CASE, MODALITIES))
    aligned = predictor.predict(resolve_case(_aligned_by_truth(root / "study" / CASE, truth, root / "aligned"),
                                             MODALITIES))
    return root, truth, original, aligned


def _aligned_by_truth(study, truth: dict, output):
    """The study's own sequences (same resolution loss) put on the T1ce grid through the TRUE motions:
    what a perfect registration would give, so comparing with it isolates the registration's error."""
    folder = output / CASE
    folder.mkdir(parents=True)
    t1ce_path = study / f"{CASE}_t1ce.nii.gz"
    t1ce = nib.load(t1ce_path)
    nib.save(t1ce, folder / t1ce_path.name)
    grid = sitk.ReadImage(str(t1ce_path), sitk.sitkFloat32)
    for sequence, motion in truth.items():
        moving = sitk.ReadImage(str(study / f"{CASE}_{sequence}.nii.gz"), sitk.sitkFloat32)
        data = sitk.GetArrayFromImage(sitk.Resample(moving, grid, motion, sitk.sitkLinear, 0.0)).transpose(2, 1, 0)
        image = nib.Nifti1Image(data.astype(np.float32), t1ce.affine, t1ce.header)
        image.set_data_dtype(np.float32)
        nib.save(image, folder / f"{CASE}_{sequence}.nii.gz")
    return folder


@pytest.mark.real_data
@pytest.mark.slow
def test_written_transforms_have_sub_millimetre_registration_error(registered):
    root, truth, _, _ = registered
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
    root, _, _, _ = registered
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
def test_mask_agrees_with_the_case_aligned_by_the_true_motions(registered):
    """Same weights on the registered study and on the same study aligned by the true motions: Dice >= 0.95.

    Against the original 1 mm case the agreement is lower (WT 0.81 measured with these weights): the
    5 mm FLAIR itself correlates at only 0.89 with the 1 mm FLAIR it was made from, so that figure
    measures the thick slices, not the registration; this comparison keeps the slices and varies only
    the transform."""
    root, _, original, aligned = registered
    mask = np.asarray(nib.load(root / "out" / f"{CASE}_seg.nii.gz").dataobj)
    assert np.isin(aligned.label, (1, 2, 4)).sum() > 10_000  # a tumour-sized whole tumour, not noise
    scores = {}
    for name, values in (("WT", (1, 2, 4)), ("TC", (1, 4)), ("ET", (4,))):
        expected = np.isin(aligned.label, values)
        if expected.sum() > 1000:
            scores[name] = dice(np.isin(mask, values), expected)
    versus_original = dice(np.isin(mask, (1, 2, 4)), np.isin(original.label, (1, 2, 4)))
    print(f"Dice of the registered study: vs true-motion alignment {scores}; WT vs the 1 mm original "
          f"{versus_original:.3f}")
    assert scores and min(scores.values()) >= 0.95, scores
