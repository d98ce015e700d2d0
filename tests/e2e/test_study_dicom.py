"""The simulated clinical study as DICOM series written with pydicom, end to end through
``medseg infer --register``; the DICOM SEG is read back with highdicom."""

import json

import nibabel as nib
import numpy as np
import pydicom
import pytest

from medseg.engine.infer import Predictor
from medseg.study import StudyOptions
from medseg.study.register import RegistrationSettings
from medseg.study.simulate import simulate_study
from tests.study_helpers import tumour_rule_network, write_dicom_study

CASE = "Brats18_2013_2_1"


@pytest.mark.real_data
@pytest.mark.slow
def test_dicom_study_end_to_end(shared_data, tiny_run, tmp_path):
    import highdicom as hd

    simulate_study(shared_data / "brats2018" / CASE, tmp_path / "nifti")
    study = write_dicom_study(tmp_path / "nifti", CASE, tmp_path / "PATIENT01")
    out = tmp_path / "out"
    # What `medseg infer RUN --register --all-grids` runs, with fixed weights that outline real tumours (the
    # tiny phantom network may label nothing on real MRI, and an empty mask gets no SEG to read back)
    predictor = Predictor.from_bundle(tiny_run, device="cpu", overrides={"roi_size": [128, 128, 128],
                                                                          "sw_overlap": 0.25})
    predictor.network = tumour_rule_network()
    options = StudyOptions(all_grids=True, settings=RegistrationSettings(samples=20_000))  # as test_study_real
    predictor.predict_to_dir([study], out, progress=False, study=options)
    names = {p.name for p in out.iterdir()}
    for sequence in ("t1", "t2", "flair"):
        assert f"PATIENT01_{sequence}_to_t1ce.tfm" in names and f"PATIENT01_seg_on_{sequence}.nii.gz" in names
    assert {"PATIENT01_seg.nii.gz", "PATIENT01.seg.nrrd", "PATIENT01_seg.dcm"} <= names
    document = json.loads((out / "PATIENT01_measurements.json").read_text())
    assert document["registration"]["reference"] == "t1ce"
    assert "POST GD" in document["registration"]["reference_series"]
    assert all(document["registration"]["sequences"][s]["final_metric_mattes_mi"] < 0 for s in ("t1", "t2", "flair"))

    t1ce_folder = next(p for p in study.iterdir() if "POST_GD" in p.name)
    sources = [pydicom.dcmread(p, stop_before_pixels=True) for p in sorted(t1ce_folder.iterdir())]
    seg = hd.seg.segread(out / "PATIENT01_seg.dcm")
    referenced = {ref.ReferencedSOPInstanceUID for item in seg.ReferencedSeriesSequence
                  for ref in item.ReferencedInstanceSequence}
    assert referenced <= {ds.SOPInstanceUID for ds in sources}
    assert seg.ReferencedSeriesSequence[0].SeriesInstanceUID == sources[0].SeriesInstanceUID
    mask = np.asarray(nib.load(out / "PATIENT01_seg.nii.gz").dataobj)
    assert mask.shape == (240, 240, 155)  # the T1ce series' grid: 240 x 240 pixels, 155 slices
    volume = seg.get_volume(combine_segments=True, relabel=True)
    labelled = {d.SegmentLabel: int(np.sum(volume.array == d.SegmentNumber)) for d in seg.SegmentSequence}
    schema_values = {"necrotic tumour core": 1, "peritumoral oedema": 2, "enhancing tumour": 4}
    expected = {name: int(np.sum(mask == value)) for name, value in schema_values.items()}
    assert labelled == {name: count for name, count in expected.items() if count}
