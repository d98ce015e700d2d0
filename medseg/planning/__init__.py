"""nnU-Net-style planning: fingerprint a dataset, choose spacing, patch, network and schedule for a device.

``plan_for_bundle`` is what ``medseg plan`` and ``medseg train`` call; the modules hold one job each:
``fingerprint`` (the data), ``topology`` (kernels and strides), ``memory`` (cost of an iteration),
``rules`` (the choices), ``plan`` (the result and how it enters a bundle's configs).
"""

from medseg.planning.bundle import budget_for, is_plannable, plan_for_bundle, plan_overrides
from medseg.planning.fingerprint import Fingerprint, fingerprint_manifest
from medseg.planning.plan import Plan, make_plan
from medseg.planning.rules import Budget, cpu_budget, gpu_budget

__all__ = ["Budget", "Fingerprint", "Plan", "budget_for", "cpu_budget", "fingerprint_manifest", "gpu_budget",
           "is_plannable", "make_plan", "plan_for_bundle", "plan_overrides"]
