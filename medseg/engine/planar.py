"""The name 2D bundles made by ``medseg bundle new`` before the predictors were merged still call.

``Predictor`` handles 2D bundles itself (a folder is a batch of images, X-rays included); a sealed
run cannot be edited, so its ``medseg.engine.planar.PlanarPredictor`` stays this alias.
"""

from medseg.engine.infer import Predictor

PlanarPredictor = Predictor
