"""Review and correct in 3D Slicer: a MONAI Label server for a medseg run (``medseg label serve``).

MONAI Label (``pip install 'medseg[label]'``) is the server; Slicer's MONAI Label module is its
client. medseg plugs in its own pieces: the studies folder as the datastore (``datastore``), its
Predictor as the model (``infer``), fine-tuning of the served run on corrected studies (``train``)
and the next study to review (``strategy``); ``app`` wires them, ``server`` starts it.

monailabel 0.8.5 imports ``pydicom-seg``, which still imports ``pydicom._storage_sopclass_uids``, a
module pydicom 3 removed (its UIDs moved to ``pydicom.uid``; razorx89/pydicom-seg#60, open). medseg
needs pydicom 3, so that one module is provided from ``pydicom.uid`` before MONAI Label is imported
(the same change as the fix proposed upstream, razorx89/pydicom-seg#63).
"""

from __future__ import annotations

import importlib.util
import sys
import types


def _provide_pydicom_sopclass_uids() -> None:
    if importlib.util.find_spec("pydicom") is None or "pydicom._storage_sopclass_uids" in sys.modules:
        return
    import pydicom.uid

    if importlib.util.find_spec("pydicom._storage_sopclass_uids") is None:
        module = types.ModuleType("pydicom._storage_sopclass_uids")
        module.SegmentationStorage = pydicom.uid.SegmentationStorage
        sys.modules[module.__name__] = module


_provide_pydicom_sopclass_uids()

from medseg.label.server import serve  # noqa: E402  (after the line above: MONAI Label may load with it)

__all__ = ["serve"]
