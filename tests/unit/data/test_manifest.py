import json

import pytest

from medseg.data.manifest import load_manifest
from medseg.errors import InputError


def _manifest(tmp_path, content):
    path = tmp_path / "m.json"
    path.write_text(json.dumps(content))
    return path


def test_paths_are_relative_to_a_movable_root(tmp_path, monkeypatch):
    path = _manifest(tmp_path, {"training": [{"image": ["a_t1.nii.gz"], "label": "a_seg.nii.gz"}]})
    case = load_manifest(path).cases("training")[0]
    assert case.images[0] == tmp_path.resolve() / "a_t1.nii.gz"
    assert case.case_id == "a"
    monkeypatch.setenv("MEDSEG_DATA_ROOT", "/data/brats")
    assert str(load_manifest(path).cases("training")[0].label) == "/data/brats/a_seg.nii.gz"
    assert str(load_manifest(path, data_root="/x").cases("training")[0].label) == "/x/a_seg.nii.gz"


def test_seeded_split_never_shares_a_case(tmp_path):
    entries = [{"image": f"c{i}.nii.gz", "label": f"c{i}_seg.nii.gz"} for i in range(10)]
    manifest = load_manifest(_manifest(tmp_path, {"training": entries}))
    train, val = manifest.train_validation_split(0.2, seed=3)
    assert len(val) == 2 and len(train) == 8
    assert not {c.case_id for c in train} & {c.case_id for c in val}
    again = manifest.train_validation_split(0.2, seed=3)[1]
    assert [c.case_id for c in again] == [c.case_id for c in val]


@pytest.mark.parametrize(
    ("content", "message"),
    [({}, "lists no cases"), ([], "must be a JSON object"), ({"training": [{"label": "x"}]}, "needs an 'image'")],
)
def test_bad_manifests(tmp_path, content, message):
    with pytest.raises(InputError, match=message):
        load_manifest(_manifest(tmp_path, content))


def test_missing_and_invalid_manifest(tmp_path):
    with pytest.raises(InputError, match="manifest not found"):
        load_manifest(tmp_path / "nope.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(InputError, match="not valid JSON"):
        load_manifest(bad)
