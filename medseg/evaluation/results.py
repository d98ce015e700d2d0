"""An evaluation's results: per-case rows, their summaries, the CSV, the JSON document and the table."""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medseg.evaluation.metrics import EMPTY_RULES, METRICS, summarise
from medseg.io.atomic import ensure_not_input, write_text_atomic


@dataclass
class Evaluation:
    """Per-case scores and their summaries (mean, std, median per structure and metric)."""

    rows: list[dict[str, float | str]]
    structures: list[str]
    inputs: list[Path] = field(default_factory=list)  # every file read, so no output overwrites one
    tolerance_mm: float = 2.0
    units: str = "mm"  # of HD95 and the surface tolerance: "px" when no prediction had a header
    overlaps: dict[str, tuple[int, int, int]] = field(default_factory=dict)  # summed (intersection, pred, truth)

    def summary(self) -> dict[str, dict[str, float]]:
        """Dice per structure (the headline numbers)."""
        return {name: self._stats(name) for name in self.structures}

    def metric_summary(self) -> dict[str, dict[str, dict[str, float]]]:
        """Every metric per structure: ``{structure: {metric: {mean, std, median, n}}}``."""
        return {name: {metric: self._stats(name if metric == "dice" else f"{name}/{metric}") for metric in METRICS}
                for name in self.structures}

    def _stats(self, column: str) -> dict[str, float]:
        return summarise([float(row[column]) for row in self.rows])

    def pooled(self) -> dict[str, Any]:
        """Dataset-level IoU and Dice per structure, from intersections and unions summed over every case (a
        large case weighs more, as road-scene benchmarks count), and the mean IoU over structures that
        either side holds; a structure in no case on either side is undefined (NaN) and out of the mean."""
        iou, dice = {}, {}
        for name, (inter, pred, truth) in self.overlaps.items():
            union = pred + truth - inter
            iou[name] = inter / union if union else float("nan")
            dice[name] = 2 * inter / (pred + truth) if pred + truth else float("nan")
        defined = [v for v in iou.values() if not math.isnan(v)]
        return {"iou": iou, "dice": dice, "miou": sum(defined) / len(defined) if defined else float("nan")}

    def _pooled_lines(self) -> list[str]:
        if not self.overlaps:
            return []
        pooled = self.pooled()
        width = max(len(s) for s in self.overlaps) + 2
        lines = [f"pooled over all {len(self.rows)} cases (intersections and unions summed, void excluded):",
                 f"{'structure':<{width}}{'IoU':>8}{'Dice':>8}"]
        lines += [f"{name:<{width}}{_number(pooled['iou'][name]):>8}{_number(pooled['dice'][name]):>8}"
                  for name in self.overlaps]
        lines.append(f"{'mean IoU':<{width}}{_number(pooled['miou']):>8}")
        return lines

    def document(self) -> dict[str, Any]:
        """The machine-readable summary (``medseg evaluate --json``); undefined metrics are ``None``."""
        return _finite({"cases": len(self.rows), "summary": self.summary(), "metrics": self.metric_summary(),
                        "surface_dice_tolerance_mm": self.tolerance_mm, "distance_units": self.units,
                        "empty_rules": EMPTY_RULES,
                        **({"pooled": self.pooled()} if self.overlaps else {}),
                        "per_case": self.rows})

    def write_csv(self, path: str | Path) -> Path:
        """The per-case CSV, written atomically; refuses to replace any file the evaluation read."""
        ensure_not_input(path, self.inputs)
        return write_text_atomic(path, self.to_csv())

    def to_csv(self) -> str:
        buffer = io.StringIO()
        columns = list(dict.fromkeys(key for row in self.rows for key in row)) or ["case"]
        writer = csv.writer(buffer)
        writer.writerow([self._unit(column) for column in columns])  # hd95_px when the distances are pixels
        for row in self.rows:
            values = [row.get(column, "") for column in columns]
            writer.writerow([f"{v:.4f}" if isinstance(v, float) else v for v in values])
        return buffer.getvalue()

    def _by_sequences(self) -> list[str]:
        """Mean Dice per input-sequence subset (studies that lacked a sequence apart from complete ones)."""
        subsets = sorted({str(row["sequences"]) for row in self.rows if row.get("sequences")})
        lines = []
        for subset in subsets:
            rows = [row for row in self.rows if row.get("sequences") == subset]
            cells = ", ".join(f"{name} {summarise([float(r[name]) for r in rows])['mean']:.3f}"
                              for name in self.structures)
            lines.append(f"sequences {subset} (n={len(rows)}): Dice {cells}")
        return lines

    def table(self) -> str:
        """A plain-text summary table for the terminal: mean ± std (median) per metric, each column as wide as
        its widest cell, distances headed in the unit they are in (``hd95_px`` for pixel data)."""
        rows = [["structure", *(self._unit(metric) for metric in METRICS)]]
        rows += [[name, *map(_cell, metrics.values())] for name, metrics in self.metric_summary().items()]
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        lines = ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths)))
                 for row in rows]
        lines[0] += f"   (n={len(self.rows)} cases)"
        lines += self._by_sequences()
        lines += self._pooled_lines()
        lines.append(f"mean ± std (median); surface Dice at {self.tolerance_mm:g} {self.units}; "
                     f"{self._unit('hd95_mm')}: HD95 in {self.units}.")
        lines.append(f"Empty masks: {EMPTY_RULES}")
        return "\n".join(lines)

    def _unit(self, column: str) -> str:
        """``hd95_mm`` as ``hd95_px`` when the distances are pixels (no prediction had a header)."""
        return column.replace("hd95_mm", f"hd95_{self.units}")


def _finite(value: Any) -> Any:
    """NaN (an undefined metric) becomes ``None`` (JSON null)."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def _number(value: float) -> str:
    return "undefined" if math.isnan(value) else f"{value:.3f}"


def _cell(stats: dict[str, float]) -> str:
    if math.isnan(stats["mean"]):
        return "undefined"
    return f"{stats['mean']:.3f} ± {stats['std']:.3f} ({stats['median']:.3f})"


def default_csv(pred_dir: str | Path) -> Path:
    """``predictions/`` → ``predictions_evaluation.csv`` beside it: the prediction folder holds predictions only."""
    folder = Path(pred_dir).resolve()
    return folder.parent / f"{folder.name}_evaluation.csv"
