"""Evaluation: predictions paired with their truths, read on one grid, scored per structure, summarised.

``truths`` (truth folders read as the importers read datasets), ``pairing`` (which files go together),
``reading`` (label files as scored), ``metrics`` (overlap and surface metrics of two masks), ``scoring``
(every metric of every structure of a case), ``results`` (summaries, CSV, JSON, table) and ``evaluate``
(``evaluate_predictions``: all of it for a folder). The names below are what ``medseg.evaluate`` offered
before the package.
"""

from medseg.evaluation.evaluate import evaluate_predictions
from medseg.evaluation.metrics import dice
from medseg.evaluation.pairing import pair_predictions
from medseg.evaluation.reading import Side, read_label
from medseg.evaluation.results import Evaluation, default_csv
from medseg.evaluation.scoring import case_metrics, score_case, side_metrics, structures
from medseg.evaluation.truths import Truths, read_truths

__all__ = ["Evaluation", "Side", "Truths", "case_metrics", "default_csv", "dice", "evaluate_predictions",
           "pair_predictions", "read_label", "read_truths", "score_case", "side_metrics", "structures"]
