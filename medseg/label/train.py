"""Train in Slicer: fine-tune the served run on the corrected studies and serve the result.

MONAI Label runs each Train in its own process, one at a time, in the background; this task is what
that process does. It writes the corrected studies as a manifest, trains a new run beside the served
one with ``medseg.train(init_from=<served run>, time_limit=...)`` (the served run's recipe, not a new
plan, so the weights fit), and on success makes the new run the served one. The old run stays.
Progress (one line per epoch, with the validation Dice) goes to MONAI Label's training status, and
``stats`` reports it to Slicer's progress and accuracy bars.
"""

from __future__ import annotations

import csv
import time
from pathlib import Path
from typing import Any

from monailabel.interfaces.tasks.train import TrainTask

from medseg.api import train
from medseg.data.manifest import case_to_dict, write_manifest
from medseg.errors import InputError
from medseg.label.datastore import StudyDatastore
from medseg.label.served import ServedRun, next_run_dir, read_training, write_training


class MedsegTrain(TrainTask):
    """Fine-tune the served run on every study with a corrected label (``labels/final``)."""

    def __init__(self, served: ServedRun, epochs: int, time_limit: float, device: str = "auto",
                 trust: bool = False) -> None:
        super().__init__("Fine-tune the served medseg run on the corrected studies; later Runs use the new run")
        self.served, self.device, self.trust = served, device, trust
        self._config = {"epochs": int(epochs), "time_limit_min": float(time_limit)}

    def config(self) -> dict[str, Any]:
        return dict(self._config)

    def stats(self) -> dict[str, Any]:
        """The Train in progress or last finished, in MONAI Label's keys (Slicer reads ``epoch``,
        ``total_epochs`` and ``best_metric``): epochs done so far and the best validation Dice."""
        record = read_training(self.served.workspace)
        if not record:
            return {}
        rows = _metrics(Path(record["run"]) / "metrics.csv")
        finished = "end_ts" in record
        dice = [float(row["dice_mean"]) for row in rows if row.get("dice_mean")]
        best = record.get("best_metric") if finished else max(dice, default=None)
        stats = {key: value for key, value in record.items() if key != "best_metric"}
        stats["epoch"] = len(rows)
        if best is not None:  # Slicer's accuracy bar reads it as a number
            stats["best_metric"] = best
        elapsed = int(record.get("end_ts", time.time()) - record["start_ts"])
        stats["total_time" if finished else "current_time"] = f"{elapsed} s"
        return stats

    def __call__(self, request: dict[str, Any], datastore: StudyDatastore) -> dict[str, Any]:
        cases = datastore.labeled_cases()
        if not cases:
            raise InputError("no corrected labels yet: Submit Label for at least one study first",
                             datastore.studies.label_path("<study>").parent)
        source = self.served.current()
        run_dir = next_run_dir(source)
        manifest = self.served.workspace / "manifests" / f"{run_dir.name}.json"
        write_manifest(manifest, {"training": [_entry(case) for case in cases]},
                       name=f"corrected studies of {datastore.studies.root}")
        # one or the other sets how long to train (medseg.train takes one): epochs when given, else the budget
        epochs = int(request.get("epochs", self._config["epochs"])) or None
        minutes = None if epochs else float(request.get("time_limit_min", self._config["time_limit_min"]))
        record = {"run": str(run_dir), "from": str(source), "manifest": str(manifest), "studies": len(cases),
                  "total_epochs": epochs, "time_limit_min": minutes, "start_ts": time.time()}
        write_training(self.served.workspace, record)
        print(f"medseg: fine-tuning {source} on {len(cases)} corrected studies into {run_dir} "
              f"({f'{epochs} epochs' if epochs else f'a {minutes:g}-minute time budget'})", flush=True)
        try:
            result = train(source, data=manifest, output_dir=run_dir, epochs=epochs, device=self.device,
                           trust=self.trust, init_from=source, time_limit=minutes, plan=False, progress=True)
        except BaseException as exc:
            write_training(self.served.workspace, {**record, "end_ts": time.time(), "error": str(exc)})
            raise
        validated = {int(row["epoch"]): float(row["dice_mean"]) for row in result.history if "dice_mean" in row}
        dice = validated.get(result.best_epoch)  # the kept model's Dice; none without a validation study
        record.update(end_ts=time.time(), best_metric=dice, best_epoch=result.best_epoch)
        write_training(self.served.workspace, record)
        self.served.serve(result.run_dir)
        shown = f"validation Dice {dice:.4f}" if dice is not None else \
            "no validation Dice (one corrected study: with two or more, one is held out to validate)"
        print(f"medseg: trained {result.run_dir}: {shown}; now serving it", flush=True)
        return {"run": str(result.run_dir), "from": str(source), "best_metric": dice, "best_epoch": result.best_epoch}


def _entry(case) -> dict[str, Any]:
    entry = case_to_dict(case)
    if case.missing:
        entry["missing"] = list(case.missing)
    return entry


def _metrics(path: Path) -> list[dict[str, str]]:
    try:
        with path.open(newline="") as handle:
            return list(csv.DictReader(handle))
    except OSError:
        return []
