"""Clinical studies at inference (``medseg infer --register``): their own files beside the mask.

Their cases come from ``medseg.study`` (sequences identified, registered onto the reference); once a
case is segmented, ``StudyWriter`` writes the study's transforms, aligned sequences and registration
figures, for this call only: another call of the same predictor may want other options.
"""

from __future__ import annotations

from collections.abc import Sequence

from medseg.outputs.prediction import OutputWriter
from medseg.outputs.study import StudyWriter
from medseg.study import StudyOptions


def study_writers(study: StudyOptions | None, writers: Sequence[OutputWriter]) -> list[OutputWriter]:
    """The writers a call adds for ``study`` (none when it is not a study, or the bundle writes them itself)."""
    if study is None or any(isinstance(w, StudyWriter) for w in writers):
        return []
    return [StudyWriter(study.all_grids)]
