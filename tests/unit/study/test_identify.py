"""Telling T1, T1ce, T2 and FLAIR apart from what scanners call them."""

from pathlib import Path

import pytest

from medseg.errors import InputError
from medseg.study.identify import StudySeries, assign_sequences, classify


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
