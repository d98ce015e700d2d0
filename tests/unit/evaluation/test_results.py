"""The evaluation table and CSV: one name per structure, columns that line up, one distance unit throughout."""

import math
import re

from medseg.bundle.find import find_bundle
from medseg.evaluation import Evaluation, structures


def _evaluation(units: str) -> Evaluation:
    rows = []
    for case, (dice, hd95) in enumerate([(0.018, 1613.434), (0.9, 0.0), (0.0, math.nan)]):
        row = {"case": f"c{case}", "right_clavicle": dice, "membrane": 0.8}
        for name in ("right_clavicle", "membrane"):
            row.update({f"{name}/surface_dice": 0.5, f"{name}/hd95_mm": hd95, f"{name}/sensitivity": 1.0,
                        f"{name}/precision": 0.25})
        rows.append(row)
    return Evaluation(rows, ["right_clavicle", "membrane"], units=units)


def test_columns_line_up_however_wide_the_distances_are():
    lines = _evaluation("mm").table().splitlines()
    header, rows = lines[0].split("   (n=")[0], lines[1:3]
    assert {len(row) for row in rows} == {len(header)}  # every row as wide as the header
    ends = [match.end() for match in re.finditer(r"\S+", header)][1:]  # where each metric's header ends
    for row in rows:  # each cell ends under its header, then a gap before the next column
        assert all(row[end - 1] != " " and row[end:end + 2] in ("  ", "") for end in ends), row
    assert "806.717 ± 806.717 (806.717)" in rows[0]  # 27 characters: the old fixed 26 ran it into its neighbour


def test_pixel_distances_are_named_pixels_in_the_header_the_footer_and_the_csv():
    table = _evaluation("px").table()
    assert "hd95_px" in table.splitlines()[0] and "hd95_mm" not in table
    assert "HD95 in px" in table and "surface Dice at 2 px" in table
    header = _evaluation("px").to_csv().splitlines()[0]
    assert "right_clavicle/hd95_px" in header and "hd95_mm" not in header
    assert "right_clavicle/hd95_mm" in _evaluation("mm").to_csv().splitlines()[0]
    assert "hd95_mm" in _evaluation("mm").table().splitlines()[0]


def test_structures_that_are_one_label_each_are_scored_once_under_one_name():
    names = [name for name, _ in structures(find_bundle("chest_xray").schema)]
    assert names == ["right_lung", "left_lung", "heart", "right_clavicle", "left_clavicle"]
    brats = [name for name, _ in structures(find_bundle("brain_tumor").schema)]
    assert brats == ["necrotic tumour core", "peritumoral oedema", "enhancing tumour", "WT", "TC", "ET"]
