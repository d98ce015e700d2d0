"""Clinical studies in: sequences identified, registered onto the reference and resampled (see ``prepare``)."""

from medseg.study.prepare import StudyCase, StudyOptions, prepare_study

__all__ = ["StudyCase", "StudyOptions", "prepare_study"]
