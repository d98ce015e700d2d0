"""Next Sample: the unlabelled study the served run is least sure about (``uncertainty``), or a random one
(MONAI Label's own ``random`` strategy, which also avoids handing one study to two reviewers at once)."""

from __future__ import annotations

from typing import Any

from monailabel.interfaces.tasks.strategy import Strategy

from medseg.label.datastore import StudyDatastore
from medseg.label.served import ServedPredictor
from medseg.label.uncertainty import UncertaintyScores, mean_entropy


class MostUncertain(Strategy):
    """The unlabelled study with the highest mean entropy of the served run's probabilities.

    Each study is segmented once per served run to score it (the scores are kept in the workspace),
    so the first Next Sample after a start or a Train takes one inference per unlabelled study.
    """

    def __init__(self, predictor: ServedPredictor) -> None:
        super().__init__("The unlabelled study the served run is least sure of (mean entropy of its probabilities)")
        self.predictor = predictor
        self.scores = UncertaintyScores(predictor.served.workspace)

    def __call__(self, request: dict[str, Any], datastore: StudyDatastore) -> dict[str, Any] | None:
        unlabelled = datastore.get_unlabeled_images()
        if not unlabelled:
            return None
        run, predictor = self.predictor.get()

        def score(image_id: str) -> float:
            prediction = predictor.predict(datastore.case(image_id))
            return mean_entropy(prediction.probabilities, predictor.schema.mode)

        scores = self.scores.for_run(run, unlabelled, score)
        chosen = max(unlabelled, key=lambda image_id: scores[image_id])
        return {"id": chosen, "entropy": scores[chosen], "run": str(run)}
