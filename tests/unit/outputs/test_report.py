"""Reports: radiological orientation of overlays, and an HTML page for predictions and runs."""

import csv

import nibabel as nib
import numpy as np
import pytest

from medseg.bundle.find import find_bundle
from medseg.errors import InputError
from medseg.io.read import CaseFiles
from medseg.outputs.measurements import MeasurementWriter
from medseg.outputs.nifti import NiftiLabelWriter
from medseg.outputs.overlay import _radiological
from medseg.outputs.prediction import Prediction
from medseg.outputs.report import build_report


def test_radiological_view_puts_patient_right_on_the_left_and_up_at_the_top():
    plane = np.zeros((6, 4))  # (x: left→right, y: posterior→anterior) in RAS voxel order
    plane[5, 3] = 1  # patient's far right, most anterior
    shown = _radiological(plane)
    assert shown.shape == (4, 6) and shown[0, 0] == 1  # top-left of the picture


@pytest.fixture()
def prediction_dir(tmp_path):
    schema = find_bundle("brain_tumor").schema
    affine = np.array([[-2.0, 0, 0, 40], [0, -2.0, 0, 30], [0, 0, 3.0, -20], [0, 0, 0, 1]])  # LPS voxel order
    image = np.random.default_rng(0).random((24, 20, 12)).astype(np.float32)
    reference = tmp_path / "study_flair.nii.gz"
    nib.save(nib.Nifti1Image(image, affine), reference)
    label = np.zeros(image.shape, np.uint8)
    label[4:12, 6:10, 4:8] = 2
    label[7:9, 7:9, 5:7] = 4
    prediction = Prediction(CaseFiles("study", (reference,)), label, schema.label_map_to_channels(label), schema)
    out = tmp_path / "pred"
    for writer in (NiftiLabelWriter(), MeasurementWriter()):
        writer(prediction, out)
    with (out / "evaluation.csv").open("w", newline="") as handle:
        csv.writer(handle).writerows([["case", "WT", "WT/hd95_mm"], ["study", "0.9", "nan"]])
    return out


def test_report_for_predictions(prediction_dir):
    page = build_report(prediction_dir)
    html = page.read_text()
    assert page == prediction_dir / "report" / "index.html"
    for png in ("study_views.png", "study_axial.png"):
        assert f'src="{png}"' in html and (page.parent / png).stat().st_size > 5000
    # the measurements table: 8 × 4 × 4 voxels of 12 mm³ = 1.536 mL of WT, drawn with the schema colour
    assert "1.536" in html and "rgb(90, 200, 80)" in html and "peritumoral oedema" in html
    assert "0.900 ± 0.000 (0.900)" in html and "undefined" in html  # evaluation summary, NaN HD95 stated as such


def test_report_for_a_run_has_curves(tmp_path):
    (tmp_path / "metrics.csv").write_text("epoch,train_loss,dice_WT\n1,0.9,0.2\n2,0.7,0.4\n")
    html = build_report(tmp_path).read_text()
    assert "curves.png" in html and (tmp_path / "report" / "curves.png").is_file()


def test_report_of_an_empty_folder_is_an_error(tmp_path):
    with pytest.raises(InputError, match="no training metrics"):
        build_report(tmp_path)


def test_report_says_which_truth_its_evaluation_scored(prediction_dir, tmp_path):
    """`medseg evaluate` replaces the CSV on every run: the report names the truth of the one it shows."""
    from medseg.evaluation.results import Evaluation, default_csv

    rows = [{"case": "study", "truth": str(tmp_path / "brats.json"), "WT": 0.75, "WT/hd95_mm": 2.0}]
    Evaluation(rows, ["WT"]).write_csv(default_csv(prediction_dir))
    html = build_report(prediction_dir).read_text()
    assert f"truth scored: {tmp_path / 'brats.json'}; evaluated " in html
    assert "0.750 ± 0.000 (0.750)" in html and "<th>truth</th>" not in html  # a description, not a metric
    assert "truth scored: not recorded" in html  # the older evaluation.csv among the predictions


def test_report_of_2d_predictions_shows_their_evaluation(tmp_path):
    """bundle new's PNG masks have no measurements; the report still shows what evaluate scored (em walk-through)."""
    from medseg.evaluation.results import Evaluation, default_csv

    (tmp_path / "em_pred").mkdir()
    rows = [{"case": "00", "truth": str(tmp_path / "em" / "test" / "masks"), "membrane": 0.8, "membrane/hd95_mm": 4.5}]
    Evaluation(rows, ["membrane"], units="px").write_csv(default_csv(tmp_path / "em_pred"))
    html = build_report(tmp_path / "em_pred").read_text()
    assert "0 case(s)" in html and "0.800 ± 0.000 (0.800)" in html and "hd95_px" in html
    assert f"truth scored: {tmp_path / 'em' / 'test' / 'masks'}" in html
