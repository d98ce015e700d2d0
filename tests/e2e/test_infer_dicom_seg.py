"""`medseg infer` on a DICOM series folder writes a DICOM SEG beside the NIfTI label, on the source slices."""

import warnings

import nibabel as nib
import numpy as np
import pydicom
import pytest
from click.testing import CliRunner

from medseg.cli import main
from medseg.errors import MedsegWarning
from medseg.labels import LabelSchema
from tests.cli_helpers import override_args, run
from tests.dicom_helpers import write_ct_series
from tests.itk_reference import label_on_series

TINY = {"roi_size": [32, 32, 16], "patch_size": [16, 16, 8], "network_def#channels": [4, 8],
        "network_def#strides": [2], "val_interval": 1, "samples_per_case": 1}
BLOB = (slice(3, 9), slice(6, 16), slice(8, 18))  # (slice, row, column) of the bright box in the series


def _overrides(settings):
    return override_args(settings)


def _phantoms(root, n=4):
    """NIfTI training pairs: a bright box (60 HU) in air-like noise, the box labelled 1."""
    rng = np.random.default_rng(0)
    for folder in ("vols", "segs"):
        (root / folder).mkdir()
    for i in range(n):
        seg = np.zeros((24, 24, 12), np.uint8)
        seg[6 + i : 16 + i, 8:18, 3:9] = 1
        volume = np.where(seg > 0, 60.0, -800.0) + rng.normal(0, 20, seg.shape)
        affine = np.diag([3.0, 3.0, 3.0, 1])
        nib.save(nib.Nifti1Image(volume.astype(np.float32), affine), root / "vols" / f"c{i}.nii.gz")
        nib.save(nib.Nifti1Image(seg, affine), root / "segs" / f"c{i}.nii.gz")


def box_volume(shape=(12, 24, 24)) -> np.ndarray:
    """HU (slice, row, column): the box of ``BLOB`` at 60 HU in air-like noise."""
    rng = np.random.default_rng(1)
    volume = np.full(shape, -800.0) + rng.normal(0, 20, shape)
    volume[BLOB] = 60.0 + rng.normal(0, 20, volume[BLOB].shape)
    return volume


def _series_on_itk(series, label_nifti):
    """Independent placement (ITK) of the NIfTI label on the series, and the slices' SOP Instance UIDs."""
    on_ct, files = label_on_series(series, label_nifti, outside=255)
    return on_ct, [pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID for f in files]


@pytest.mark.slow
def test_infer_on_a_dicom_series_writes_a_dicom_seg(tmp_path, monkeypatch):
    import highdicom as hd

    monkeypatch.chdir(tmp_path)
    _phantoms(tmp_path)
    assert run("bundle", "new", "body", "--from-folder", "vols", "segs", "--labels", "body").exit_code == 0
    result = run("train", "body", "--output-dir", "run", "--epochs", 3, "--device", "cpu", "--no-plan",
                 *_overrides({**TINY, "cache_dir": str(tmp_path / "cache")}))
    assert result.exit_code == 0, result.output
    uids = write_ct_series(tmp_path / "study" / "ct", box_volume())

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MedsegWarning)
        result = run("infer", "run", "--input", "study/ct", "--output-dir", "pred", "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "pred").iterdir()) == ["ct_seg.dcm", "ct_seg.nii.gz"]

    expected, itk_uids = _series_on_itk(tmp_path / "study" / "ct", tmp_path / "pred" / "ct_seg.nii.gz")
    assert (expected != 255).all()  # every source pixel lies on the label grid
    assert expected.any() and not expected.all()  # the network found the box, not everything
    seg = hd.seg.segread(tmp_path / "pred" / "ct_seg.dcm")
    frames = seg.get_pixels_by_source_instance(itk_uids, combine_segments=True, relabel=False)
    np.testing.assert_array_equal(frames, expected)
    referenced = {item.ReferencedSOPInstanceUID for item in seg.ReferencedSeriesSequence[0].ReferencedInstanceSequence}
    assert referenced == set(uids)
    assert [s.SegmentLabel for s in seg.SegmentSequence] == ["body"]
    colour = hd.color.CIELabColor.from_dicom_value(seg.SegmentSequence[0].RecommendedDisplayCIELabValue).to_rgb()
    assert np.allclose(colour, LabelSchema.from_bundle(tmp_path / "run").color_of(1), atol=2)
    assert seg.ManufacturerModelName == "body"  # the bundle names the algorithm


def test_nifti_cases_get_no_dicom_seg(tiny_run, tiny_dataset, tmp_path):
    from medseg.inference.predictor import Predictor
    from medseg.outputs.dicom_seg import DicomSegWriter

    predictor = Predictor.from_bundle(tiny_run, device="cpu")
    assert any(isinstance(w, DicomSegWriter) for w in predictor.writers)  # registered in brain_tumor
    case = tiny_dataset.parent / "phantom_009_lps"
    written = predictor.predict_to_dir([case], tmp_path / "out", progress=False)
    assert written and not any(p.suffix == ".dcm" for p in written)
    assert not list((tmp_path / "out").glob("*.dcm"))


@pytest.mark.real_data
def test_dicom_seg_refuses_a_label_map_with_values_outside_the_schema(shared_data, tmp_path):
    """The real TotalSegmentator CT map (117 structures) against brain_tumor: one line, no SEG."""
    ct = shared_data / "dicom" / "ct_totalseg_example"
    label = ct / "example_seg_dicom_MODEL_PREDICTION.nii.gz"
    result = CliRunner().invoke(main, ["dicom-seg", str(label), "--series", str(ct / "series"),
                                       "--bundle", "brain_tumor", "--output", str(tmp_path / "seg.dcm")])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    expected = f"medseg: error: {label}: label values [5, 6, 7, 8, 20, 32, ..., 114, 115, 117] (30 values)"
    assert len(lines) == 1 and lines[0].startswith(expected), lines
    assert "values) are not in the schema [1, 2, 4]" in lines[0]
    assert list(tmp_path.iterdir()) == []
