"""Telling T1, T1ce, T2 and FLAIR apart from what scanners call them."""

from pathlib import Path

import pytest

from medseg.errors import InputError
from medseg.study.identify import StudySeries, assign_sequences, check_one_patient, classify


@pytest.mark.parametrize(("text", "expected"), [
    ("Brats18_2013_2_1_t1ce", "t1ce"), ("Brats18_2013_2_1_t1", "t1"), ("case_t2", "t2"), ("case_flair", "flair"),
    ("BraTS-GLI-00001-000-t1c", "t1ce"), ("BraTS-GLI-00001-000-t2f", "flair"), ("t1_mprage_sag_p2", "t1"),
    ("T1 MPRAGE POST GD", "t1ce"), ("AX T1 +C", "t1ce"), ("T1_KM_tra", "t1ce"), ("T1 SE ax pre contrast", "t1"),
    ("t2_tse_tra", "t2"), ("tirm_tra_dark-fl", "flair"), ("AX T2 FLAIR", "flair"), ("localizer", None),
    ("ep2d_diff_3scan_trace", None),
])
def test_series_names(text, expected):
    assert classify(StudySeries(Path(text), text=text)) == expected


def test_dicom_attributes_decide_when_the_name_does_not():
    assert classify(StudySeries(Path("s"), uid="1", text="t1_mprage_tra", contrast_agent="Gadovist",
                                files=(Path("a"),))) == "t1ce"
    assert classify(StudySeries(Path("s"), uid="2", text="ax 5mm", echo_time=90.0, inversion_time=2500.0,
                                files=(Path("a"),))) == "flair"


def _series(*names):
    return [StudySeries(Path(f"/study/{n}.nii.gz"), text=n) for n in names]


def test_two_candidates_for_one_sequence_are_refused_naming_both():
    with pytest.raises(InputError) as err:
        assign_sequences(_series("ax_t1_post_gd", "sag_t1_post_gd", "ax_flair"), folder="/study")
    message = str(err.value)
    assert "2 candidate series for t1ce" in message and "ax_t1_post_gd" in message and "sag_t1_post_gd" in message
    assert "--sequence t1ce=" in message and "\n" not in message


def test_sequence_choice_overrides_and_resolves_the_tie():
    found = _series("ax_t1_post_gd", "sag_t1_post_gd", "ax_flair")
    assigned = assign_sequences(found, {"t1ce": "sag_t1_post_gd.nii.gz"})
    assert assigned["t1ce"].path.name == "sag_t1_post_gd.nii.gz" and assigned["flair"].path.name == "ax_flair.nii.gz"
    with pytest.raises(InputError, match="no such series"):
        assign_sequences(found, {"t1ce": "missing.nii.gz"})
    with pytest.raises(InputError, match="unknown sequence"):
        assign_sequences(found, {"dwi": "ax_flair.nii.gz"})


def test_one_file_given_as_two_sequences_is_refused(tmp_path):
    """``--sequence t1=X --sequence t1ce=X``: the real T1 would lie unused while the network reads X twice."""
    found = []
    for name in ("case_t1", "case_t1ce", "case_flair"):
        (tmp_path / f"{name}.nii.gz").write_bytes(name.encode())
        found.append(StudySeries(tmp_path / f"{name}.nii.gz", text=name))
    with pytest.raises(InputError) as err:
        assign_sequences(found, {"t1": "case_t1ce.nii.gz", "t1ce": "case_t1ce.nii.gz"}, folder=tmp_path)
    message = str(err.value)
    assert "t1 (" in message and "t1ce (" in message and "are the same file" in message
    assert "--sequence t1=case_t1ce.nii.gz and --sequence t1ce=case_t1ce.nii.gz" in message and "\n" not in message


def test_byte_identical_files_are_one_scan(tmp_path):
    for name in ("case_t1", "case_t1ce"):
        (tmp_path / f"{name}.nii.gz").write_bytes(b"the same scan")
    (tmp_path / "case_flair.nii.gz").write_bytes(b"another scan!")  # same size, other bytes: fine
    found = [StudySeries(p, text=p.name[:-7]) for p in sorted(tmp_path.iterdir())]
    with pytest.raises(InputError, match=r"t1 \(.*case_t1.nii.gz\) and t1ce \(.*case_t1ce.nii.gz\) are "
                                         "byte-identical files"):
        assign_sequences(found, folder=tmp_path)
    (tmp_path / "case_t1.nii.gz").write_bytes(b"the real T1!!")
    assert set(assign_sequences(found, folder=tmp_path)) == {"t1", "t1ce", "flair"}


def _dicom(uid: str, text: str, patient: str = "P1", study: str = "1.2.3") -> StudySeries:
    return StudySeries(Path("/study/series"), uid=uid, text=text, files=(Path("a.dcm"),), patient_id=patient,
                       study_uid=study)


def test_one_series_uid_as_two_sequences_is_refused():
    found = [_dicom("1.1", "AX T1 POST GD"), _dicom("1.2", "t1_mprage_sag")]
    with pytest.raises(InputError, match="are the same series UID"):
        assign_sequences(found, {"t1": "1.1", "t1ce": "1.1"})


@pytest.mark.parametrize(("patient", "study", "what"), [("P2", "1.2.3", "PatientID 'P2' vs 'P1'"),
                                                        ("P1", "9.9.9", "StudyInstanceUID '9.9.9' vs '1.2.3'")])
def test_series_of_another_patient_or_study_are_refused_naming_both(patient, study, what):
    t1ce, flair = _dicom("1.1", "AX T1 POST GD"), _dicom("1.4", "AX FLAIR", patient, study)
    with pytest.raises(InputError) as err:
        check_one_patient([("t1ce", t1ce), ("flair", flair)], "/study")
    message = str(err.value)
    assert "flair (/study/series series 1.4 ('AX FLAIR')) is from another" in message
    assert "than t1ce (/study/series series 1.1 ('AX T1 POST GD'))" in message and what in message
    check_one_patient([("t1ce", t1ce), ("flair", _dicom("1.4", "AX FLAIR"))])  # same patient and study: fine
    check_one_patient([("t1ce", t1ce), ("flair", StudySeries(Path("f.nii.gz"), text="flair"))])  # NIfTI: no IDs
