"""One rule for case ids: one plain path component, so outputs stay in their folder."""

from __future__ import annotations

import json

import pytest

from medseg.data.importers import Entry
from medseg.data.manifest import load_manifest
from medseg.errors import InputError
from medseg.io.caseid import case_id_problem, check_case_id, check_unique_ids
from medseg.io.read import case_id_from_path


@pytest.mark.parametrize("bad", ["../x/gt", "/abs/path", ".", "..", ".hidden", "a/b", "a\\b", "", " x", "a\0b", 3])
def test_ids_that_would_leave_the_folder_or_hide_are_refused(bad):
    assert case_id_problem(bad) is not None
    with pytest.raises(InputError, match="source.json"):
        check_case_id(bad, "source.json")


@pytest.mark.parametrize("good", ["Brats18_2013_2_1", "JPCLN001", "case-7", "ct 1", "a.b"])
def test_plain_ids_pass_unchanged(good):
    assert check_case_id(good, None) == good


def test_duplicate_ids_name_both_sources():
    with pytest.raises(InputError, match=r"two cases have the id 'x' \(a/x and b/x\)"):
        check_unique_ids([("x", "a/x"), ("y", "a/y"), ("x", "b/x")])


def test_manifest_ids_go_through_the_rule(tmp_path):
    (tmp_path / "img.nii.gz").write_bytes(b"")
    path = tmp_path / "data.json"
    path.write_text(json.dumps({"test": [{"image": "img.nii.gz", "id": "../../gt"}]}))
    with pytest.raises(InputError, match="data.json: case id '../../gt'"):
        load_manifest(path)
    # duplicates are left to the callers: `medseg data check` lists them with every other problem,
    # `medseg infer` refuses them before any output (tests/e2e/test_bad_inputs.py)


def test_importer_entries_and_path_ids_go_through_the_rule(tmp_path):
    with pytest.raises(InputError, match="starts with '.'"):
        Entry(".x", [tmp_path / ".x.nii.gz"])
    with pytest.raises(InputError, match="starts with '.'"):
        case_id_from_path(tmp_path / "._seg.nii.gz")
    assert case_id_from_path(tmp_path / "Brats_001_seg.nii.gz") == "Brats_001"


def test_an_import_with_two_images_of_one_name_is_refused_before_writing(tmp_path):
    """``images/a.png`` and ``images/a.jpg`` would both become case ``a``: refused, no manifest written."""
    from medseg.data.importers import import_dataset

    for folder in ("images", "labels"):
        (tmp_path / "src" / folder).mkdir(parents=True)
    for name in ("images/a.png", "images/a.jpg", "labels/a.png"):
        (tmp_path / "src" / name).write_bytes(b"")
    with pytest.raises(InputError, match=r"two cases have the id 'a'"):
        import_dataset("folder", tmp_path / "src", "chest_xray", tmp_path / "out.json")
    assert not (tmp_path / "out.json").exists()
