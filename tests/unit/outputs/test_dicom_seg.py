"""DICOM SEG on the real CT series reads back with highdicom to the voxels ITK puts there."""

import nibabel as nib
import numpy as np
import pydicom
import pytest

from medseg.errors import InputError
from medseg.labels import LabelSchema
from medseg.outputs.dicom_seg import write_dicom_seg
from tests.itk_reference import label_on_series

# a handful of TotalSegmentator classes present in the companion mask
CLASSES = {1: "spleen", 5: "liver", 6: "stomach", 20: "esophagus", 52: "aorta", 32: "vertebrae L1",
           8: "adrenal gland right", 2: "kidney right"}  # (2 is absent from the mask: no segment for it)
SCHEMA = LabelSchema.from_metadata({"medseg": {"mode": "exclusive", "labels": [
    {"name": name, "value": value, "color": [(37 * value) % 256, 120, 200]} for value, name in CLASSES.items()]}})


@pytest.fixture(scope="module")
def ct(shared_data, tmp_path_factory):
    """The series, and its TotalSegmentator map kept to the schema's classes (other values would be refused)."""
    folder = shared_data / "dicom" / "ct_totalseg_example"
    full = nib.load(folder / "example_seg_dicom_MODEL_PREDICTION.nii.gz")
    data = np.asarray(full.dataobj)
    subset = tmp_path_factory.mktemp("ct") / "example_seg_subset.nii.gz"
    nib.save(nib.Nifti1Image(np.where(np.isin(data, list(CLASSES)), data, 0).astype(data.dtype), full.affine,
                             full.header), subset)
    return folder / "series", subset


def test_seg_reads_back_to_the_same_voxels(ct, tmp_path):
    import highdicom as hd

    series, mask = ct
    path = write_dicom_seg(mask, series, SCHEMA, tmp_path / "seg.dcm")
    seg = hd.seg.segread(path)

    # independent placement: ITK reads the series and resamples the NIfTI onto it (nearest neighbour)
    on_ct, files = label_on_series(series, mask)
    expected = np.where(np.isin(on_ct, list(CLASSES)), on_ct, 0)

    uids = [pydicom.dcmread(f, stop_before_pixels=True).file_meta.MediaStorageSOPInstanceUID for f in files]
    numbers = seg.get_pixels_by_source_instance(uids, combine_segments=True, relabel=False)
    labels = [s.SegmentLabel for s in seg.SegmentSequence]
    lut = np.array([0] + [next(v for v, n in CLASSES.items() if n == name) for name in labels])
    np.testing.assert_array_equal(lut[numbers], expected)
    assert expected.astype(bool).sum() > 100_000  # a real overlap, not two empty masks

    present = {v for v in CLASSES if np.any(np.asarray(nib.load(mask).dataobj) == v)}
    assert set(labels) == {CLASSES[v] for v in present} and "kidney right" not in labels
    referenced = {item.ReferencedSOPInstanceUID for item in seg.ReferencedSeriesSequence[0].ReferencedInstanceSequence}
    assert referenced == set(uids)
    codes = {s.SegmentLabel: s.SegmentedPropertyTypeCodeSequence[0] for s in seg.SegmentSequence}
    assert (codes["liver"].CodingSchemeDesignator, codes["liver"].CodeValue) == ("SCT", "10200004")
    assert (codes["adrenal gland right"].CodeValue, codes["adrenal gland right"].CodeMeaning) == (
        "23451007", "Adrenal gland")  # laterality word dropped for the look-up, and coded as a modifier:
    assert codes["adrenal gland right"].SegmentedPropertyTypeModifierCodeSequence[0].CodeValue == "24028007"
    assert "SegmentedPropertyTypeModifierCodeSequence" not in codes["liver"]
    assert codes["vertebrae L1"].CodingSchemeDesignator == "99MEDSEG"  # no standard code found: private
    colour = hd.color.CIELabColor.from_dicom_value(seg.SegmentSequence[0].RecommendedDisplayCIELabValue).to_rgb()
    assert np.allclose(colour, SCHEMA.color_of(1), atol=2)


def test_label_on_another_grid_is_refused(ct, tmp_path):
    series, mask = ct
    image = nib.load(mask)
    shifted = image.affine.copy()
    shifted[:3, 3] += [0.4, 0, 0]  # less than half a voxel: close, but not the series' pixel centres
    moved = tmp_path / "moved.nii.gz"
    nib.save(nib.Nifti1Image(np.asarray(image.dataobj), shifted), moved)
    with pytest.raises(InputError, match="moved.nii.gz: the label map is not on the grid"):
        write_dicom_seg(moved, series, SCHEMA, tmp_path / "seg.dcm")
    assert not (tmp_path / "seg.dcm").exists()


@pytest.mark.filterwarnings("ignore::medseg.errors.MedsegWarning")  # the example series is partial
def test_writer_puts_an_inferred_label_on_the_source_series(ct, tmp_path, monkeypatch):
    """What ``medseg infer`` does for a series folder: the case knows its slices, the writer references them."""
    import json

    import highdicom as hd

    from medseg.data.inputs import resolve_case
    from medseg.data.manifest import load_manifest
    from medseg.outputs.dicom_seg import DicomSegWriter
    from medseg.outputs.nifti import NiftiLabelWriter
    from medseg.outputs.prediction import Prediction

    monkeypatch.setenv("MEDSEG_CACHE", str(tmp_path / "cache"))
    series, mask = ct
    case = resolve_case(series, ["image"])
    manifest = tmp_path / "m.json"
    manifest.write_text(json.dumps({"data_root": str(series.parent), "test": [{"image": "series"}]}))
    assert load_manifest(manifest).all_cases()[0].dicom_series == case.dicom_series  # manifests too
    label = np.asarray(nib.load(mask).dataobj).astype(np.int16)
    prediction = Prediction(case, np.where(np.isin(label, list(CLASSES)), label, 0), np.zeros(0), SCHEMA)

    (nifti,) = NiftiLabelWriter()(prediction, tmp_path)
    (path,) = DicomSegWriter(algorithm="ct_test", version="1.2")(prediction, tmp_path)
    assert path == tmp_path / "series_seg.dcm"
    seg = hd.seg.segread(path)
    assert seg.ManufacturerModelName == "ct_test" and seg.SoftwareVersions == "1.2"
    uids = [pydicom.dcmread(f, stop_before_pixels=True).file_meta.MediaStorageSOPInstanceUID
            for f in case.dicom_series]
    assert {i.ReferencedSOPInstanceUID for i in seg.ReferencedSeriesSequence[0].ReferencedInstanceSequence} == set(uids)

    expected, files = label_on_series(series, nifti)
    itk_uids = [pydicom.dcmread(f, stop_before_pixels=True).file_meta.MediaStorageSOPInstanceUID for f in files]
    numbers = seg.get_pixels_by_source_instance(itk_uids, combine_segments=True, relabel=False)
    lut = np.array([0] + [next(v for v, n in CLASSES.items() if n == s.SegmentLabel) for s in seg.SegmentSequence])
    np.testing.assert_array_equal(lut[numbers], expected)
    assert expected.astype(bool).sum() > 100_000


def test_a_symlinked_data_root_gives_the_same_series(ct, tmp_path, monkeypatch):
    """Data behind symlinks (common on clusters): a manifest (resolved root) and a folder path agree."""
    import json

    from medseg.data.inputs import resolve_case
    from medseg.data.manifest import load_manifest

    monkeypatch.setenv("MEDSEG_CACHE", str(tmp_path / "cache"))
    series, _ = ct
    link = tmp_path / "data"
    link.symlink_to(series.parent, target_is_directory=True)
    manifest = tmp_path / "m.json"
    manifest.write_text(json.dumps({"data_root": "data", "test": [{"image": "series"}]}))
    case = resolve_case(link / "series", ["image"])
    assert load_manifest(manifest).all_cases()[0].dicom_series == case.dicom_series
    assert resolve_case(series, ["image"]).dicom_series == case.dicom_series


def _split_series(series, tmp_path):
    """A copy of the CT whose first 10 slices (along z) are series 1.2.3.1 and the rest 1.2.3.2."""
    folder = tmp_path / "two_series"
    folder.mkdir()
    files = sorted(series.glob("*.dcm"), key=lambda p: float(pydicom.dcmread(p).ImagePositionPatient[2]))
    for i, path in enumerate(files):
        ds = pydicom.dcmread(path)
        ds.SeriesInstanceUID = "1.2.3.1" if i < 10 else "1.2.3.2"
        ds.save_as(folder / path.name)
    return folder, files


@pytest.mark.filterwarnings("ignore::medseg.errors.MedsegWarning")  # the example series is partial
def test_seg_uses_the_series_selection_of_infer(ct, tmp_path):
    """One folder, two series: refused with the listing infer gives, or the chosen one referenced exactly."""
    series, mask = ct
    folder, files = _split_series(series, tmp_path)
    with pytest.raises(InputError, match=r"2 series in the folder, pick one with --series UID"):
        write_dicom_seg(mask, folder, SCHEMA, tmp_path / "seg.dcm")
    path = write_dicom_seg(mask, folder, SCHEMA, tmp_path / "seg.dcm", series_uid="1.2.3.2")
    seg = pydicom.dcmread(path)
    referenced = [i.ReferencedSOPInstanceUID for i in seg.ReferencedSeriesSequence[0].ReferencedInstanceSequence]
    expected = {pydicom.dcmread(f, stop_before_pixels=True).file_meta.MediaStorageSOPInstanceUID for f in files[10:]}
    assert set(referenced) == expected and seg.ReferencedSeriesSequence[0].SeriesInstanceUID == "1.2.3.2"


def test_broken_slice_is_refused_not_skipped(ct, tmp_path):
    """As in infer: a slice whose header cannot be read leaves a gap, and a gap is refused (no SEG on part of it)."""
    series, mask = ct
    folder, files = _split_series(series, tmp_path)
    broken = folder / files[12].name
    broken.write_bytes(broken.read_bytes()[:200])
    with pytest.raises(InputError, match=r"about 1 slice\(s\) missing"):
        write_dicom_seg(mask, folder, SCHEMA, tmp_path / "seg.dcm", series_uid="1.2.3.2")
    assert not (tmp_path / "seg.dcm").exists()


def test_seg_never_replaces_its_label(ct, tmp_path):
    from medseg.errors import OutputError

    series, mask = ct
    label = tmp_path / "label.nii.gz"
    label.write_bytes(mask.read_bytes())
    with pytest.raises(OutputError, match="refusing to overwrite"):
        write_dicom_seg(label, series, SCHEMA, label)
    assert label.read_bytes() == mask.read_bytes()


@pytest.mark.filterwarnings("ignore::medseg.errors.MedsegWarning")
def test_cli_takes_the_series_uid_and_the_older_folder_spelling(ct, tmp_path):
    from click.testing import CliRunner

    from medseg.cli import main

    series, mask = ct
    folder, _ = _split_series(series, tmp_path)
    bundle = tmp_path / "bundle"
    (bundle / "configs").mkdir(parents=True)
    metadata = {"name": "ct", "medseg": {"mode": "exclusive", "labels": [
        {"name": name, "value": value, "color": [10, 20, 30]} for value, name in CLASSES.items()]}}
    (bundle / "configs" / "metadata.json").write_text(__import__("json").dumps(metadata))
    run = CliRunner().invoke(main, ["dicom-seg", str(mask), "--dicom", str(folder), "--series", "1.2.3.1",
                                    "--bundle", str(bundle), "--output", str(tmp_path / "a.dcm")])
    assert run.exit_code == 0 and (tmp_path / "a.dcm").is_file(), run.output
    run = CliRunner().invoke(main, ["dicom-seg", str(mask), "--series", str(series), "--bundle", str(bundle),
                                    "--output", str(tmp_path / "b.dcm")])
    assert run.exit_code == 0 and (tmp_path / "b.dcm").is_file(), run.output
