"""``data check``: every planted problem is reported, one line each, and training refuses the data."""

import json

import nibabel as nib
import numpy as np
import pytest
from click.testing import CliRunner

from medseg.cli import main
from medseg.data.check import check_dataset
from medseg.errors import InputError

SHAPE = (10, 9, 8)
AFFINE = np.diag([2.0, 2.0, 2.0, 1.0])
MODS = ("t1", "t1ce", "t2", "flair")


def _save(path, array, affine=AFFINE):
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(np.asarray(array), affine), str(path))
    return path.name


def _case(root, name, image=None, label=None, modalities=MODS, shapes=None, affines=None):
    """Write one case; ``image``/``label`` replace the default arrays; ``shapes``/``affines`` per modality."""
    rng = np.random.default_rng(len(name))
    files = []
    for m in modalities:
        shape = (shapes or {}).get(m, SHAPE)
        array = image.get(m) if image and m in image else rng.random(shape).astype(np.float32)
        files.append(f"{name}/{_save(root / name / f'{name}_{m}.nii.gz', array, (affines or {}).get(m, AFFINE))}")
    seg = np.zeros(SHAPE, np.uint8)
    seg[3:6, 3:6, 3:6] = 2
    seg[4, 4, 4] = 4
    _save(root / name / f"{name}_seg.nii.gz", seg if label is None else label)
    return {"id": name, "image": files, "label": f"{name}/{name}_seg.nii.gz"}


@pytest.fixture()
def planted(tmp_path):
    """A manifest with one good case and 14 planted problems (the expected lines are returned too)."""
    root = tmp_path
    shifted = AFFINE.copy()
    shifted[0, 3] = 5.0
    nan_image = np.random.default_rng(0).random(SHAPE).astype(np.float32)
    nan_image[1, 1, 1] = np.nan
    small_label = np.zeros((10, 9, 6), np.uint8)
    small_label[4, 4, 4] = 1
    bad_values = np.zeros(SHAPE, np.uint8)
    bad_values[2:4, 2:4, 2:4] = 3
    training = [
        _case(root, "good"),
        _case(root, "missing"),
        _case(root, "unreadable"),
        _case(root, "modality_shape", shapes={"t2": (10, 9, 7)}),
        _case(root, "modality_affine", affines={"flair": shifted}),
        _case(root, "label_shape", label=small_label),
        _case(root, "label_affine"),
        _case(root, "label_values", label=bad_values),
        _case(root, "float_label", label=np.full(SHAPE, 0.5, np.float32)),
        _case(root, "three_channels", modalities=MODS[:3]),
        _case(root, "nan", image={"t1": nan_image}),
        _case(root, "constant", image={"t2": np.zeros(SHAPE, np.float32)}),
        _case(root, "empty", label=np.zeros(SHAPE, np.uint8)),
        _case(root, "flat", image={m: np.random.default_rng(1).random((10, 9, 1)) for m in MODS},
              shapes={m: (10, 9, 1) for m in MODS}, label=np.zeros((10, 9, 1), np.uint8)),
    ]
    (root / "missing" / "missing_t2.nii.gz").unlink()
    (root / "unreadable" / "unreadable_t1ce.nii.gz").write_bytes(b"not a nifti at all")
    _save(root / "label_affine" / "label_affine_seg.nii.gz",
          np.asarray(nib.load(root / "label_affine" / "label_affine_seg.nii.gz").dataobj), shifted)
    unlabelled = _case(root, "unlabelled")
    del unlabelled["label"]
    training.append(unlabelled)
    validation = [_case(root, "good")]  # also in training
    manifest = root / "manifest.json"
    manifest.write_text(json.dumps({"training": training, "validation": validation}))
    expected = [
        ("missing", "missing_t2.nii.gz", "file not found"),
        ("unreadable", "unreadable_t1ce.nii.gz", "not a readable NIfTI"),
        ("modality_shape", "modality_shape_t2.nii.gz", "shape (10, 9, 7) differs"),
        ("modality_affine", "modality_affine_flair.nii.gz", "affine differs"),
        ("label_shape", "label_shape_seg.nii.gz", "label shape (10, 9, 6) differs"),
        ("label_affine", "label_affine_seg.nii.gz", "label affine differs"),
        ("label_values", "label_values_seg.nii.gz", "label values [3] are not in the schema"),
        ("float_label", "float_label_seg.nii.gz", "non-integer values"),
        ("three_channels", "three_channels_t1.nii.gz", "found 3 image channel(s), the bundle needs 4"),
        ("flat", "flat_t1.nii.gz", "image is 2D"),
        ("unlabelled", "", "training case has no label"),
        ("good", "", "in both training and validation"),
    ]
    deep = [
        ("nan", "nan_t1.nii.gz", "1 NaN/Inf voxel(s)"),
        ("constant", "constant_t2.nii.gz", "image is constant"),
        ("empty", "empty_seg.nii.gz", "label is empty"),
        ("flat", "flat_seg.nii.gz", "label is empty"),
    ]
    return manifest, expected, deep


def _matches(problems, expected):
    for case, file, text in expected:
        hits = [p for p in problems if p.case == case and p.file.endswith(file) and text in p.message]
        assert len(hits) == 1, f"{case} {file} {text!r} not reported once in:\n" + "\n".join(map(str, problems))


def test_fast_check_reports_every_planted_problem_and_nothing_else(planted):
    manifest, expected, deep = planted
    problems = check_dataset(manifest, "brain_tumor")
    _matches(problems, expected)
    assert len(problems) == len(expected)
    assert not [p for p in problems if p.case in ("nan", "constant", "empty")]


def test_deep_check_adds_voxel_problems(planted):
    manifest, expected, deep = planted
    problems = check_dataset(manifest, "brain_tumor", deep=True)
    _matches(problems, expected + deep)
    assert len(problems) == len(expected) + len(deep)


def test_cli_lists_one_line_per_problem_and_exits_1(planted):
    manifest, expected, deep = planted
    result = CliRunner().invoke(main, ["data", "check", str(manifest), "--bundle", "brain_tumor", "--deep"])
    assert result.exit_code == 1
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert len(lines) == len(expected) + len(deep) >= 8
    assert all(line.split(":")[0] in {e[0] for e in expected + deep} for line in lines)


def test_training_stops_before_training_and_lists_all_problems(planted, tmp_path):
    import medseg

    manifest, expected, _ = planted
    with pytest.raises(InputError) as info:
        medseg.train("brain_tumor", data=manifest, output_dir=tmp_path / "run", epochs=1, device="cpu",
                     progress=False, cache="none")
    message = str(info.value)
    assert f"{len(expected)} problem(s) in the data" in message
    assert all(case in message for case, _, _ in expected)
    assert not (tmp_path / "run" / "models" / "model.pt").exists()


def test_clean_data_passes(tiny_dataset):
    assert check_dataset(tiny_dataset, "brain_tumor", deep=True) == []


def test_a_manifest_is_checked_against_the_bundle_it_names(tiny_dataset, tmp_path):
    """`data check MANIFEST` needs no --bundle when the manifest names one (data import, bundle new, data demo)."""
    assert json.loads(tiny_dataset.read_text())["bundle"] == "brain_tumor"
    assert check_dataset(tiny_dataset) == []
    result = CliRunner().invoke(main, ["data", "check", str(tiny_dataset)])
    assert result.exit_code == 0 and result.output.strip().endswith("no problems found")
    unnamed = tmp_path / "unnamed.json"
    unnamed.write_text(json.dumps({k: v for k, v in json.loads(tiny_dataset.read_text()).items() if k != "bundle"}))
    result = CliRunner().invoke(main, ["data", "check", str(unnamed)])
    assert result.exit_code == 2 and "the manifest names no bundle" in result.output and "--bundle" in result.output


def test_missing_sequences_are_a_note_for_a_bundle_that_supports_them(tmp_path):
    partial = _case(tmp_path, "partial", modalities=("t1ce", "flair"))
    no_flair_no_t1ce = _case(tmp_path, "t1t2", modalities=("t1", "t2"))
    entries = [{**partial, "missing": ["t1", "t2"]}, {**no_flair_no_t1ce, "missing": ["t1ce", "flair"]}]
    manifest = tmp_path / "m.json"
    manifest.write_text(json.dumps({"training": entries}))
    notes = []
    problems = check_dataset(manifest, "brain_tumor", notes=notes)
    assert [str(n) for n in notes] == [
        "partial: missing sequences t1, t2 (supported: any subset containing t1ce or flair; filled as in "
        "modality dropout)"]
    assert [p.case for p in problems] == ["t1t2"]
    assert "missing sequences t1ce, flair; the bundle needs any subset containing t1ce or flair" in str(problems[0])
    result = CliRunner().invoke(main, ["data", "check", str(manifest), "--bundle", "brain_tumor"])
    assert result.output.splitlines()[0].startswith("note: partial: missing sequences t1, t2")
    assert result.exit_code == 1  # the unsupported case is still a problem


@pytest.fixture()
def background_only(tmp_path):
    """Three cases whose labels hold no structure at all."""
    training = [_case(tmp_path, name, label=np.zeros(SHAPE, np.uint8)) for name in ("a", "b", "c")]
    manifest = tmp_path / "m.json"
    manifest.write_text(json.dumps({"training": training[:2], "validation": training[2:]}))
    return manifest


def test_a_dataset_of_background_only_is_refused_by_check_plan_and_train(background_only, tmp_path):
    import medseg

    (problem,) = check_dataset(background_only, "brain_tumor")
    assert str(problem).startswith("training and validation: all 3 label(s) are background")
    result = CliRunner().invoke(main, ["data", "check", str(background_only), "--bundle", "brain_tumor"])
    assert result.exit_code == 1 and "all 3 label(s) are background" in result.output
    result = CliRunner().invoke(main, ["plan", "brain_tumor", "--data", str(background_only), "--device", "cpu"])
    assert result.exit_code == 1 and "all 3 label(s) are background" in result.output
    for plan in (True, False):  # the planner's checks, and the trainer's own when nothing is planned
        with pytest.raises(InputError, match=r"all 3 label\(s\) are background.*nothing was trained"):
            medseg.train("brain_tumor", data=background_only, output_dir=tmp_path / "run", epochs=1, device="cpu",
                         progress=False, cache="none", plan=plan)
        assert not (tmp_path / "run").exists()


def test_background_is_judged_through_the_masks_coding(tmp_path):
    from PIL import Image

    from medseg.data.check import check_manifest
    from medseg.data.manifest import load_manifest
    from medseg.labels import LabelSchema

    schema = LabelSchema.from_metadata({"medseg": {"mode": "exclusive", "labels": [
        {"name": "membrane", "value": 1, "color": [255, 0, 0]}]}})
    entries = []
    for name in ("a", "b"):
        Image.fromarray(np.full((16, 16), 90, np.uint8)).save(tmp_path / f"{name}.png")
        Image.fromarray(np.full((16, 16), 255, np.uint8)).save(tmp_path / f"{name}_mask.png")
        entries.append({"id": name, "image": [f"{name}.png"], "label": f"{name}_mask.png"})
    inverted = {"threshold": 128, "inverted": True}  # membrane=0: stored 0 is the structure
    for stored, problems in ((255, 1), (0, 0)):
        for name in ("a", "b"):
            Image.fromarray(np.full((16, 16), stored, np.uint8)).save(tmp_path / f"{name}_mask.png")
        path = tmp_path / "m.json"
        path.write_text(json.dumps({"training": entries, "mask_coding": inverted}))
        found = check_manifest(load_manifest(path, modalities=["image"]), schema, 1, 2)
        assert len(found) == problems, [str(p) for p in found]
