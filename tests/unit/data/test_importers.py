"""Importers: each layout becomes a manifest on the bundle's coding (labels by name, channels by name)."""

import json

import nibabel as nib
import numpy as np
import pytest

from medseg.data.importers import assign_folds, import_dataset, parse_label_map
from medseg.data.manifest import load_manifest
from medseg.errors import InputError
from medseg.transforms.volume import validation_transforms

SHAPE = (12, 10, 8)
AFFINE = np.diag([-2.0, -2.0, 2.0, 1.0])


def _save(path, array, affine=AFFINE):
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(np.asarray(array), affine), str(path))
    return path


def _label(values=(1, 2, 3)):
    label = np.zeros(SHAPE, np.uint8)
    for i, value in enumerate(values):
        label[2 + 3 * i : 4 + 3 * i, 3:6, 2:6] = value
    return label


def _msd(root, n=3):
    """A tiny MSD Task01: 4D images with channels FLAIR, T1w, t1gd, T2w; labels 1 oedema, 2 NET, 3 ET."""
    training = []
    for i in range(n):
        noise = np.random.default_rng(i).random(SHAPE)
        image = np.stack([np.full(SHAPE, 10.0 * (c + 1)) + noise for c in range(4)], -1)
        _save(root / "imagesTr" / f"BRATS_{i:03d}.nii.gz", image.astype(np.float32))
        _save(root / "labelsTr" / f"BRATS_{i:03d}.nii.gz", _label())
        training.append({"image": f"./imagesTr/BRATS_{i:03d}.nii.gz", "label": f"./labelsTr/BRATS_{i:03d}.nii.gz"})
    _save(root / "imagesTs" / "BRATS_900.nii.gz", np.ones(SHAPE + (4,), np.float32))
    (root / "dataset.json").write_text(json.dumps({
        "name": "BRATS", "modality": {"0": "FLAIR", "1": "T1w", "2": "t1gd", "3": "T2w"},
        "labels": {"0": "background", "1": "edema", "2": "non-enhancing tumor", "3": "enhancing tumour"},
        "training": training, "test": ["./imagesTs/BRATS_900.nii.gz"]}))
    return root


def test_msd_task01_is_remapped_onto_the_brain_tumor_schema(tmp_path):
    manifest_path = import_dataset("msd", _msd(tmp_path / "Task01"), "brain_tumor", tmp_path / "m" / "msd.json")
    raw = json.loads(manifest_path.read_text())
    assert raw["label_map"] == {"1": 2, "2": 1, "3": 4}  # oedema → 2, non-enhancing → 1, enhancing → 4
    assert raw["channel_order"] == [1, 2, 3, 0]  # bundle order t1, t1ce, t2, flair
    assert [e["id"] for e in raw["test"]] == ["BRATS_900"]
    manifest = load_manifest(manifest_path)
    item = manifest.item(manifest.cases("training")[0])
    loaded = validation_transforms(_schema(), axcodes="RAS").transforms[0](item)  # LoadImaged
    conformed = validation_transforms(_schema()).transforms[1](loaded)  # ConformCased
    source = np.asarray(nib.load(manifest.cases("training")[0].images[0]).dataobj)
    np.testing.assert_allclose(conformed["image"][0].numpy(), source[..., 1])  # T1w first
    np.testing.assert_allclose(conformed["image"][3].numpy(), source[..., 0])  # FLAIR last
    label = conformed["label"][0].numpy()
    expected = _label((2, 1, 4))
    np.testing.assert_array_equal(label, expected)
    assert "label_map" not in conformed and "channel_order" not in conformed


def _schema():
    from medseg.bundle.find import find_bundle

    return find_bundle("brain_tumor").schema


def _brats(root, newer=False, n=2):
    suffixes = ("t1n", "t1c", "t2w", "t2f") if newer else ("t1", "t1ce", "t2", "flair")
    sep = "-" if newer else "_"
    for i in range(n):
        case = f"BraTS-GLI-{i:05d}-000" if newer else f"Brats18_X_{i}_1"
        for j, suffix in enumerate(suffixes):
            _save(root / case / f"{case}{sep}{suffix}.nii.gz", np.full(SHAPE, j + 1.0, np.float32))
        _save(root / case / f"{case}{sep}seg.nii.gz", _label((1, 2, 3) if newer else (1, 2, 4)))
    return root


@pytest.mark.parametrize("newer", [False, True])
def test_brats_layouts_keep_modality_order_and_map_enhancing_to_4(tmp_path, newer):
    path = import_dataset("brats", _brats(tmp_path / "src", newer), "brain_tumor", tmp_path / "b.json")
    raw = json.loads(path.read_text())
    assert raw["format"] == ("brats2023" if newer else "brats")
    # BraTS 2012-2016 label 3 (non-enhancing tumour) joins the core, as BraTS 2017+ merged it into 1
    assert raw["label_map"] == ({"1": 1, "2": 2, "3": 4} if newer else {"1": 1, "2": 2, "3": 1, "4": 4})
    first = raw["training"][0]["image"]
    assert [name.split("-" if newer else "_")[-1] for name in first] == (
        ["t1n.nii.gz", "t1c.nii.gz", "t2w.nii.gz", "t2f.nii.gz"] if newer else
        ["t1.nii.gz", "t1ce.nii.gz", "t2.nii.gz", "flair.nii.gz"])


def test_nnunet_channels_and_labels_are_matched_by_name(tmp_path):
    root = tmp_path / "Dataset001_Brain"
    for case in ("c1", "c2"):
        for i in range(4):  # channels stored as FLAIR, T1, T1ce, T2
            _save(root / "imagesTr" / f"{case}_{i:04d}.nii.gz", np.full(SHAPE, float(i), np.float32))
        _save(root / "labelsTr" / f"{case}.nii.gz", _label())
    (root / "dataset.json").write_text(json.dumps({
        "channel_names": {"0": "FLAIR", "1": "T1", "2": "T1ce", "3": "T2"},
        "labels": {"background": 0, "edema": 1, "non-enhancing": 2, "enhancing tumor": 3},
        "numTraining": 2, "file_ending": ".nii.gz"}))
    raw = json.loads(import_dataset("nnunet", root, "brain_tumor", tmp_path / "n.json").read_text())
    assert raw["label_map"] == {"1": 2, "2": 1, "3": 4}
    assert [p.rsplit("_", 1)[1] for p in raw["training"][0]["image"]] == [
        "0001.nii.gz", "0002.nii.gz", "0003.nii.gz", "0000.nii.gz"]


def test_unknown_label_names_ask_for_a_label_map(tmp_path):
    root = _msd(tmp_path / "Task01", n=1)
    description = json.loads((root / "dataset.json").read_text())
    description["labels"]["3"] = "calcification"
    (root / "dataset.json").write_text(json.dumps(description))
    with pytest.raises(InputError, match="'calcification' matches no label.*--label-map 3="):
        import_dataset("msd", root, "brain_tumor", tmp_path / "m.json")
    path = import_dataset("msd", root, "brain_tumor", tmp_path / "m.json", label_map={3: 4})
    assert json.loads(path.read_text())["label_map"]["3"] == 4


def test_folder_and_csv_pairs(tmp_path):
    for name in ("a", "b", "c"):
        _save(tmp_path / "src" / "images" / f"{name}.nii.gz", np.ones(SHAPE, np.float32))
    for name in ("a", "b"):
        _save(tmp_path / "src" / "masks" / f"{name}_seg.nii.gz", _label((255,)))
    raw = json.loads(import_dataset("folder", tmp_path / "src", "brain_tumor", tmp_path / "f.json",
                                    label_map=parse_label_map("255=2")).read_text())
    assert [e["id"] for e in raw["training"]] == ["a", "b"] and [e["id"] for e in raw["test"]] == ["c"]
    assert raw["training"][0]["label"] == "masks/a_seg.nii.gz" and raw["label_map"] == {"255": 2}
    (tmp_path / "src" / "list.csv").write_text("image,label\nimages/a.nii.gz;images/b.nii.gz,masks/a_seg.nii.gz\n")
    raw = json.loads(import_dataset("folder", tmp_path / "src" / "list.csv", "brain_tumor", tmp_path / "c.json")
                     .read_text())
    assert raw["training"][0]["image"] == ["images/a.nii.gz", "images/b.nii.gz"]


def test_manifest_paths_follow_a_moved_data_root(tmp_path, monkeypatch):
    path = import_dataset("brats", _brats(tmp_path / "src"), "brain_tumor", tmp_path / "manifests" / "b.json")
    assert load_manifest(path).cases("training")[0].images[0].is_file()
    (tmp_path / "src").rename(tmp_path / "moved")
    monkeypatch.setenv("MEDSEG_DATA_ROOT", str(tmp_path / "moved"))
    assert load_manifest(path).cases("training")[0].images[0].is_file()


def test_folds_are_seeded_stored_and_never_mix_training_and_validation(tmp_path):
    ids = [f"case{i}" for i in range(10)]
    assert assign_folds(ids, 5, seed=1) == assign_folds(list(reversed(ids)), 5, seed=1)
    assert assign_folds(ids, 5, seed=1) != assign_folds(ids, 5, seed=2)
    path = import_dataset("brats", _brats(tmp_path / "src", n=6), "brain_tumor", tmp_path / "b.json", folds=3,
                          test_fraction=0.34, seed=4)
    raw = json.loads(path.read_text())
    assert raw["folds"] == 3 and len(raw["test"]) == 2 and len(raw["training"]) == 4
    manifest = load_manifest(path)
    seen_in_validation = []
    for fold in range(3):
        train, val = manifest.train_validation_split(fold=fold)
        assert not {c.case_id for c in train} & {c.case_id for c in val}
        assert not {c.case_id for c in train + val} & {c.case_id for c in manifest.cases("test")}
        seen_in_validation += [c.case_id for c in val]
    assert sorted(seen_in_validation) == sorted(e["id"] for e in raw["training"])
    with pytest.raises(InputError, match="--fold 3 needs"):
        manifest.train_validation_split(fold=3)


def test_msd_coding_reaches_inference_and_evaluation(tiny_run, tmp_path):
    """Inference on an MSD manifest sees the bundle's channel order; evaluation remaps MSD truth labels."""
    from medseg.evaluation import evaluate_predictions
    from medseg.inference.predictor import Predictor

    root = _msd(tmp_path / "Task01", n=2)
    for i in range(2):  # distinct content per channel, so a wrong order shows
        path = root / "imagesTr" / f"BRATS_{i:03d}.nii.gz"
        channels = np.random.default_rng(10 + i).random(SHAPE + (4,)).astype(np.float32) + 1
        _save(path, channels)
    manifest = import_dataset("msd", root, "brain_tumor", tmp_path / "msd.json", test_fraction=0.5)
    # on the native grid (the planned run resamples), so channels compare voxel for voxel with the source
    predictor = Predictor.from_bundle(tiny_run, device="cpu", overrides={"spacing": None})
    case = predictor.resolve_inputs([manifest])[0]
    image = predictor.load(case)["image"].numpy()
    source = np.asarray(nib.load(case.images[0]).dataobj)[::-1, ::-1]  # LPS-like grid → RAS
    for channel, source_channel in enumerate([1, 2, 3, 0]):
        assert np.corrcoef(image[channel].ravel(), source[..., source_channel].ravel())[0, 1] > 0.999

    pred = tmp_path / "pred"
    pred.mkdir()
    truth = nib.load(case.images[0].parent.parent / "labelsTr" / case.images[0].name)
    _save(pred / f"{case.case_id}_seg.nii.gz", _label((2, 1, 4)), truth.affine)  # the truth in BraTS values
    scores = evaluate_predictions(pred, manifest, predictor.schema).rows[0]
    assert all(scores[name] == 1.0 for name in ("necrotic tumour core", "peritumoral oedema", "WT", "ET"))


def test_brats_cases_without_t1_and_t2_are_imported_with_their_missing_sequences(tmp_path):
    root = _brats(tmp_path / "src", n=2)
    for path in root.glob("Brats18_X_0_1/*_t[12].nii.gz"):  # the first case keeps only T1ce and FLAIR
        path.unlink()
    raw = json.loads(import_dataset("brats", root, "brain_tumor", tmp_path / "b.json").read_text())
    partial, full = raw["training"]
    assert partial["missing"] == ["t1", "t2"]
    assert [p.rsplit("_", 1)[-1] for p in partial["image"]] == ["t1ce.nii.gz", "flair.nii.gz"]
    assert "missing" not in full and len(full["image"]) == 4


def test_brats_case_without_t1ce_and_flair_is_refused(tmp_path):
    root = _brats(tmp_path / "src", n=1)
    for path in root.glob("*/*_t1ce.nii.gz"):
        path.unlink()
    for path in root.glob("*/*_flair.nii.gz"):
        path.unlink()
    with pytest.raises(InputError, match="missing sequences t1ce, flair; the bundle needs any subset containing"):
        import_dataset("brats", root, "brain_tumor", tmp_path / "b.json")


def test_ignore_maps_onto_the_bundles_void_value_and_needs_one(tmp_path):
    """Partial annotations: the unlabelled value becomes the bundle's void; a bundle without one refuses it."""
    from medseg.bundle.create import new_bundle

    for name in ("a", "b"):
        _save(tmp_path / "src" / "images" / f"{name}.nii.gz", np.random.default_rng(0).random(SHAPE).astype(np.float32))
        label = _label((1,))
        label[..., :2] = 99  # slices nobody outlined
        _save(tmp_path / "src" / "masks" / f"{name}.nii.gz", label)
    with pytest.raises(InputError, match="has no void value"):
        import_dataset("folder", tmp_path / "src", "brain_tumor", tmp_path / "bt.json", ignore=99)
    bundle = new_bundle("part", tmp_path / "src" / "images", tmp_path / "src" / "masks", ["organ"], ignore=99,
                        output=tmp_path / "part").root
    raw = json.loads(import_dataset("folder", tmp_path / "src", bundle, tmp_path / "p.json", ignore=99).read_text())
    assert raw["label_map"] == {"99": 255}
