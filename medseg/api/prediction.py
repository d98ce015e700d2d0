"""``medseg infer``: segment studies with a trained run (or an ensemble of runs) into an output folder."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from medseg.errors import UsageError
from medseg.inference.predictor import Predictor
from medseg.study import StudyOptions


def predict(bundle: str | Path, inputs: Sequence[str | Path], output_dir: str | Path,
            ensemble: Sequence[str | Path] = (), device: str = "auto", overrides: dict[str, Any] | None = None,
            trust: bool = False, tta: bool = False, probabilities: str | None = None, series: str | None = None,
            register: bool = False, reference: str = "t1ce", sequences: dict[str, str] | None = None,
            all_grids: bool = False, allow_skull: bool = False, progress: bool = True) -> list[Path]:
    """Segment every case of ``inputs`` with ``bundle`` (and the runs of ``ensemble``, averaged); return the
    files written.

    ``probabilities`` (``"uint8"`` or ``"float16"``) also writes per-class probabilities; ``register``
    reads the inputs as clinical studies (sequences identified by name or by ``sequences``, registered
    onto ``reference``; ``all_grids`` also writes the mask on every sequence's grid; ``allow_skull``
    segments sequences that are not brain-extracted), and the study options need it.
    """
    if not register and (sequences or all_grids or allow_skull or reference != "t1ce"):
        raise UsageError("--reference, --sequence, --all-grids and --allow-skull need --register")
    predictor = Predictor.from_bundles([bundle, *ensemble], device=device, overrides=overrides, trust=trust, tta=tta,
                                       probabilities=probabilities)
    study = StudyOptions(reference, dict(sequences or {}), all_grids, allow_skull) if register else None
    return predictor.predict_to_dir(list(inputs), output_dir, progress=progress, series=series, study=study)
