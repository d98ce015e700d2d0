"""The studies folder as a MONAI Label datastore: labels stored only when valid, studies only ever read."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest

pytest.importorskip("monailabel", reason="MONAI Label not installed (pip install 'medseg[label]')")

from medseg.bundle.find import find_bundle  # noqa: E402
from medseg.errors import InputError  # noqa: E402
from medseg.label.datastore import StudyDatastore  # noqa: E402
from medseg.label.studies import Studies  # noqa: E402

AFFINE = np.array([[-2.0, 0, 0, 90], [0, -2.0, 0, 120], [0, 0, 2.0, -70], [0, 0, 0, 1]])
SHAPE = (10, 9, 8)


def _write(path, data, affine=AFFINE):
    path.parent.mkdir(parents=True, exist_ok=True)
    image = nib.Nifti1Image(data, affine)
    image.set_qform(affine, code=1)
    nib.save(image, path)
    return path


@pytest.fixture
def store(tmp_path):
    for case in ("c1", "c2"):
        for sequence in ("t1", "t1ce", "t2", "flair"):
            _write(tmp_path / "studies" / case / f"{case}_{sequence}.nii.gz", np.ones(SHAPE, np.float32))
    bundle = find_bundle("brain_tumor")
    return StudyDatastore(Studies(tmp_path / "studies", bundle), bundle.schema)


def _label(tmp_path, value=2, name="upload.nii.gz"):
    data = np.zeros(SHAPE, np.uint8)
    data[2:5, 2:5, 2:5] = value
    return _write(tmp_path / name, data)


def test_images_are_the_studies_shown_sequences(store):
    assert store.list_images() == ["c1", "c2"]
    assert store.get_image_uri("c1").endswith("c1/c1_t1ce.nii.gz")
    assert store.get_image_info("c2")["name"] == "c2_t1ce.nii.gz"
    assert store.get_image_uri("c9") == ""
    assert [p.name for p in store.case("c1").images] == ["c1_t1.nii.gz", "c1_t1ce.nii.gz", "c1_t2.nii.gz",
                                                         "c1_flair.nii.gz"]


def test_a_saved_label_is_written_on_the_shown_grid_and_listed(store, tmp_path):
    assert store.save_label("c1", str(_label(tmp_path)), "final", {"label_info": [{"name": "x", "idx": 1}]}) == "c1"
    stored = tmp_path / "studies" / "labels" / "final" / "c1.nii.gz"
    shown = nib.load(tmp_path / "studies" / "c1" / "c1_t1ce.nii.gz")
    assert store.get_label_uri("c1", "final") == str(stored)
    assert np.array_equal(nib.load(stored).get_qform(), shown.get_qform())
    assert int(nib.load(stored).header["intent_code"]) == 1002  # a label map, as medseg writes them
    assert store.get_labeled_images() == ["c1"] and store.get_unlabeled_images() == ["c2"]
    assert store.get_labels_by_image_id("c1") == {"final": "c1"}
    assert store.get_label_info("c1", "final")["label_info"] == [{"name": "x", "idx": 1}]
    assert store.status() == {"total": 2, "completed": 1, "label_tags": {"final": 1}}
    assert store.json()["objects"]["c1"]["labels"]["final"]["ext"] == ".nii.gz"
    assert store.datalist() == [{"image": store.get_image_uri("c1"), "label": str(stored)}]
    case = store.labeled_cases()[0]
    assert case.case_id == "c1" and case.label == stored and len(case.images) == 4


def test_a_bad_label_leaves_nothing_and_a_good_one_replaces_the_last_correction(store, tmp_path):
    with pytest.raises(InputError, match="label values \\[3\\] are not in the schema"):
        store.save_label("c1", str(_label(tmp_path, value=3)), "final", {})
    assert not (tmp_path / "studies" / "labels" / "final").exists() or \
        not any((tmp_path / "studies" / "labels" / "final").iterdir())
    store.save_label("c1", str(_label(tmp_path, value=2)), "final", {})
    store.save_label("c1", str(_label(tmp_path, value=4)), "final", {})
    stored = nib.load(tmp_path / "studies" / "labels" / "final" / "c1.nii.gz")
    assert set(np.unique(np.asarray(stored.dataobj))) == {0, 4}


def test_studies_are_never_added_removed_or_labelled_unreviewed(store, tmp_path):
    with pytest.raises(InputError, match="copy a new study into it"):
        store.add_image("c3", str(_label(tmp_path)), {})
    with pytest.raises(InputError, match="never removed"):
        store.remove_image("c1")
    with pytest.raises(InputError, match="only reviewed labels"):
        store.save_label("c1", str(_label(tmp_path)), "original", {})
    with pytest.raises(InputError, match="no study 'c3'"):
        store.save_label("c3", str(_label(tmp_path)), "final", {})
    assert len(list((tmp_path / "studies").rglob("*.nii.gz"))) == 8


def test_image_info_recorded_by_clients_persists_in_the_workspace(store, tmp_path):
    store.update_image_info("c2", {"strategy": {"random": {"ts": 5}}})
    bundle = find_bundle("brain_tumor")
    again = StudyDatastore(Studies(tmp_path / "studies", bundle), bundle.schema)
    assert again.get_image_info("c2")["strategy"] == {"random": {"ts": 5}}
    assert (tmp_path / "studies" / ".medseg-label" / "datastore.json").is_file()
