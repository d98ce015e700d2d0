"""Figures and pages for people: training curves, and an HTML report of runs and predictions."""

from __future__ import annotations

import csv
from pathlib import Path

from medseg.errors import InputError
from medseg.evaluation.metrics import CASE_COLUMNS, summarise
from medseg.io.atomic import atomic_path, copy_file_atomic, write_text_atomic
from medseg.io.read import is_nifti
from medseg.labels import LabelSchema
from medseg.outputs.measurements import read_measurements
from medseg.outputs.overlay import render_outlines, render_overlays


def plot_curves(metrics_csv: str | Path, output: str | Path) -> Path:
    """Plot training loss and per-channel validation Dice from ``metrics.csv`` to a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with Path(metrics_csv).open() as handle:
        rows = list(csv.DictReader(handle))
    epochs = [int(r["epoch"]) for r in rows]
    fig, (ax_loss, ax_dice) = plt.subplots(1, 2, figsize=(10, 4))
    ax_loss.plot(epochs, [float(r["train_loss"]) for r in rows], color="tab:blue")
    ax_loss.set(title="training loss", xlabel="epoch", ylabel="loss")
    for key in (rows[0].keys() if rows else []):
        if key.startswith("dice_"):
            points = [(int(r["epoch"]), float(r[key])) for r in rows if r.get(key)]
            if points:
                ax_dice.plot(*zip(*points), marker="o", label=key.removeprefix("dice_"))
    ax_dice.set(title="validation Dice", xlabel="epoch", ylabel="Dice", ylim=(0, 1))
    if ax_dice.lines:
        ax_dice.legend(loc="lower right")
    fig.tight_layout()
    with atomic_path(output) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
    return Path(output)


# -- HTML report ------------------------------------------------------------------------------

STYLE = """
body { font-family: -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif; margin: 0;
       background: #f4f5f7; color: #1d2330; }
header { background: #1d2330; color: #fff; padding: 18px 32px; }
header h1 { margin: 0; font-size: 22px; font-weight: 600; }
header p { margin: 4px 0 0; color: #aab3c5; font-size: 13px; }
main { max-width: 1180px; margin: 0 auto; padding: 16px 32px 48px; }
section { background: #fff; border-radius: 8px; box-shadow: 0 1px 3px rgba(0,0,0,.08);
          padding: 16px 22px; margin: 18px 0; }
h2 { font-size: 18px; margin: 0 0 4px; }
.path { color: #6b7385; font-size: 12px; margin: 0 0 12px; word-break: break-all; }
img { max-width: 100%; border-radius: 4px; display: block; margin: 8px 0; }
table { border-collapse: collapse; font-size: 13px; margin-top: 8px; width: 100%; }
th, td { text-align: left; padding: 5px 10px; border-bottom: 1px solid #e6e8ee; }
th { background: #f0f2f6; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.swatch { display: inline-block; width: 12px; height: 12px; border-radius: 2px; margin-right: 6px;
          vertical-align: -1px; border: 1px solid rgba(0,0,0,.2); }
.note { color: #6b7385; font-size: 12px; }
"""


def _fmt(value, digits: int = 2) -> str:
    if value is None or value == "":
        return "–"
    if isinstance(value, list):
        return "(" + ", ".join(f"{v:.1f}" for v in value) + ")"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _measurement_table(document: dict) -> str:
    import html

    colours = {(item["value"],): item["color"] for item in document.get("labels", [])}
    rows = document["structures"]
    size_key = "area_mm2" if rows and "area_mm2" in rows[0] else "volume_ml"
    size_title = "area (mm²)" if size_key == "area_mm2" else "volume (mL)"
    out = [f"<table><tr><th>structure</th><th>voxels</th><th>{size_title}</th><th>centroid RAS (mm)</th>"
           "<th>bounding box RAS min → max (mm)</th></tr>"]
    for row in rows:
        colour = colours.get(tuple(row["values"]))
        swatch = f'<span class="swatch" style="background: rgb{tuple(colour)}"></span>' if colour else ""
        box = f"{_fmt(row['bbox_min_ras'])} → {_fmt(row['bbox_max_ras'])}" if row["bbox_min_ras"] else "–"
        out.append(f"<tr><td>{swatch}{html.escape(row['structure'])}</td><td class='num'>{row['voxels']}</td>"
                   f"<td class='num'>{_fmt(row[size_key], 3)}</td><td>{_fmt(row['centroid_ras'])}</td>"
                   f"<td>{box}</td></tr>")
    return "\n".join(out) + "</table>"


def _evaluation_table(path: Path) -> str:
    """Structures × metrics of an ``evaluation.csv``: mean ± std (median), NaN-skipping."""
    import html

    with path.open() as handle:
        rows = list(csv.DictReader(handle))
    table: dict[str, dict[str, str]] = {}
    for column in (c for c in (rows[0].keys() if rows else []) if c not in CASE_COLUMNS):
        structure, _, metric = column.partition("/")
        stats = summarise([float(row[column]) if row[column] not in ("", "nan") else float("nan") for row in rows])
        cell = "undefined" if stats["n"] == 0 else f"{stats['mean']:.3f} ± {stats['std']:.3f} ({stats['median']:.3f})"
        table.setdefault(structure, {})[metric or "dice"] = cell
    metrics = list(dict.fromkeys(m for cells in table.values() for m in cells))
    out = ["<table><tr><th>structure</th>" + "".join(f"<th>{html.escape(m)}</th>" for m in metrics) + "</tr>"]
    for structure, cells in table.items():
        out.append(f"<tr><td>{html.escape(structure)}</td>" +
                   "".join(f"<td class='num'>{cells.get(m, '–')}</td>" for m in metrics) + "</tr>")
    note = f"mean ± std (median) over {len(rows)} case(s); undefined values (one mask empty) are skipped."
    return _scored_against(path, rows) + "\n".join(out) + f"</table><p class='note'>{note}</p>"


def _scored_against(path: Path, rows: list[dict[str, str]]) -> str:
    """Which truth an evaluation scored and when: a later ``medseg evaluate`` replaces the CSV."""
    import html
    import time

    truths = sorted({row["truth"] for row in rows if row.get("truth")})
    scored = (f"truth scored: {', '.join(truths)}" if truths
              else "truth scored: not recorded (an evaluation written before medseg recorded it)")
    written = time.strftime("%Y-%m-%d %H:%M", time.localtime(path.stat().st_mtime))
    return f"<p class='path'>{html.escape(scored)}; evaluated {written}</p>"


def _case_section(json_path: Path, output_dir: Path) -> str:
    import html

    document = read_measurements(json_path)
    case = document["case"]
    label_path = json_path.parent / f"{case}_seg.nii.gz"
    if not label_path.is_file() and (json_path.parent / f"{case}_seg.png").is_file():  # a 2D image's label map
        label_path = json_path.parent / f"{case}_seg.png"
    parts = [f"<section><h2>{html.escape(case)}</h2>",
             f"<p class='path'>image: {html.escape(document['image'])}<br>mask: {html.escape(str(label_path))}</p>"]
    overlay = json_path.parent / f"{case}_overlay.png"  # an X-ray's or 2D image's own (outputs.xray, outputs.planar)
    if overlay.is_file() and not is_nifti(document["image"]):
        png = copy_file_atomic(overlay, output_dir / overlay.name)
        parts.append(f'<img src="{html.escape(png.name)}" alt="{html.escape(case)} overlay">')
    elif label_path.is_file() and Path(document["image"]).is_file() and is_nifti(document["image"]):
        schema = LabelSchema.from_metadata({"medseg": {"mode": "exclusive", "labels": document["labels"]}})
        for png in render_overlays(document["image"], label_path, schema, output_dir / case, title=case):
            parts.append(f'<img src="{html.escape(png.name)}" alt="{html.escape(case)} overlay">')
    else:
        parts.append("<p class='note'>source image or mask not found; overlays skipped.</p>")
    if "registration" in document and label_path.is_file():
        parts.append(_registration_part(document, json_path.parent, label_path, output_dir))
    parts.append(_measurement_table(document))
    parts.append("</section>")
    return "\n".join(parts)


def _registration_part(document: dict, folder: Path, label_path: Path, output_dir: Path) -> str:
    """Every sequence on the reference grid with the mask outline, and the registration table."""
    import html

    registration, case = document["registration"], document["case"]
    images = {name: folder / entry["aligned"] if not Path(entry["aligned"]).is_absolute() else Path(entry["aligned"])
              for name, entry in registration["sequences"].items()}
    images = {name: path for name, path in images.items() if path.is_file()}
    schema = LabelSchema.from_metadata({"medseg": {"mode": "exclusive", "labels": document["labels"]}})
    png = render_outlines(images, label_path, schema, output_dir / f"{case}_registration.png",
                          title=f"{case}: sequences on the {registration['reference']} grid, mask outlined")
    rows = ["<table><tr><th>sequence</th><th>series</th><th>final Mattes MI</th><th>rotation (°)</th>"
            "<th>shift (mm)</th><th>transform</th></tr>"]
    for name, entry in registration["sequences"].items():
        rows.append(f"<tr><td>{html.escape(name)}</td><td>{html.escape(entry['series'])}</td>"
                    f"<td class='num'>{_fmt(entry.get('final_metric_mattes_mi'), 4)}</td>"
                    f"<td class='num'>{_fmt(entry.get('rotation_deg'), 1)}</td>"
                    f"<td class='num'>{_fmt(entry.get('shift_mm'), 1)}</td>"
                    f"<td>{html.escape(entry.get('transform', 'reference'))}</td></tr>")
    return (f"<h3>Registration onto {html.escape(registration['reference'])}</h3>"
            f'<img src="{html.escape(png.name)}" alt="{html.escape(case)} sequences with the mask outline">'
            + "\n".join(rows) + "</table>")


def build_report(source: str | Path, output_dir: str | Path | None = None) -> Path:
    """``index.html`` and PNGs for a prediction folder or a training run (curves, then any predictions).

    Cases are the ``<case>_measurements.json`` files found under ``source``; a run's ``metrics.csv``
    adds its loss/Dice curves; an ``evaluation.csv`` among the predictions or ``<folder>_evaluation.csv``
    beside them adds its summary.
    """
    import html
    import time

    source = Path(source)
    if not source.is_dir():
        raise InputError("expected a run directory or an output folder of medseg infer", source)
    output_dir = Path(output_dir) if output_dir else source / "report"
    output_dir.mkdir(parents=True, exist_ok=True)
    cases = sorted(p for p in source.rglob("*_measurements.json") if output_dir not in p.parents)
    evaluations = sorted(p for p in source.rglob("evaluation.csv") if output_dir not in p.parents)
    beside = source.resolve().parent / f"{source.resolve().name}_evaluation.csv"  # medseg evaluate's default
    evaluations += [beside] if beside.is_file() else []
    metrics_csv = source / "metrics.csv"
    if not cases and not metrics_csv.is_file() and not evaluations:  # 2D masks have no measurements: evaluation only
        raise InputError("no training metrics (metrics.csv), predictions (*_measurements.json) or evaluation "
                         "(<folder>_evaluation.csv) found", source)
    sections = []
    if metrics_csv.is_file():
        plot_curves(metrics_csv, output_dir / "curves.png")
        sections.append("<section><h2>Training</h2><p class='path'>" + html.escape(str(metrics_csv)) +
                        "</p><img src='curves.png' alt='loss and validation Dice curves'></section>")
    for path in evaluations:
        sections.append(f"<section><h2>Evaluation</h2><p class='path'>{html.escape(str(path))}</p>"
                        f"{_evaluation_table(path)}</section>")
    sections.extend(_case_section(path, output_dir) for path in cases)
    page = (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>medseg report: "
            f"{html.escape(source.name)}</title><style>{STYLE}</style></head><body><header>"
            f"<h1>medseg report: {html.escape(source.name)}</h1><p>{len(cases)} case(s) · generated "
            f"{time.strftime('%Y-%m-%d %H:%M')} · research use only, not for clinical decisions</p></header>"
            f"<main>{''.join(sections)}</main></body></html>\n")
    return write_text_atomic(output_dir / "index.html", page)
