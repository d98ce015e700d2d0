"""Turn the parts of a zoo config medseg imports into medseg config nodes (literal arguments only).

* the network: a class of ``monai.networks.nets`` (installed code, not the bundle's), with its
  arguments as written;
* the preprocessing: the MONAI steps in ``medseg.bundle.zoo.preprocess.IMPORTED``, keyed on ``image``;
* the post-processing, read as settings: sigmoid or softmax (overlapping or exclusive labels),
  the threshold, largest-component filtering. The zoo's ``Invertd``, label ``Lambdad`` and
  ``SaveImaged`` are replaced by medseg's own inversion, label schema and writers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from medseg.bundle.zoo.configs import ZooConfig
from medseg.bundle.zoo.preprocess import IMPORTED, REPLACED
from medseg.errors import BundleError

PER_KEY_ARGS = ("mode", "padding_mode", "align_corners", "dtype", "allow_missing_keys")


def _source(zoo: ZooConfig):
    return zoo.root / "configs" / "inference.json"


def network_def(zoo: ZooConfig) -> dict[str, Any]:
    """``network_def`` as ``{"_target_": "monai.networks.nets.X", literal args}``; anything else refused."""
    import monai.networks.nets as nets

    raw = zoo.inference.get("network_def")
    if not isinstance(raw, dict) or "_target_" not in raw:
        raise BundleError("zoo inference.json has no network_def component", _source(zoo))
    target = str(zoo.literal(raw["_target_"], "network_def#_target_"))
    name = target.rsplit(".", 1)[-1]
    if ("." in target and not target.startswith("monai.networks.nets.")) or not hasattr(nets, name):
        raise BundleError(f"network_def is {target}: medseg imports only networks of monai.networks.nets", _source(zoo))
    args = zoo.literal({k: v for k, v in raw.items() if k != "_target_"}, "network_def")
    return {"_target_": f"monai.networks.nets.{name}", **args}


def build_network(node: dict[str, Any]):
    """Instantiate a ``network_def`` node from ``network_def`` (a MONAI class, literal arguments)."""
    import monai.networks.nets as nets

    args = {k: v for k, v in node.items() if k != "_target_"}
    try:
        return getattr(nets, node["_target_"].rsplit(".", 1)[-1])(**args)
    except (TypeError, ValueError) as exc:
        raise BundleError(f"cannot build the zoo network {node['_target_']} ({exc})") from exc


def _image_args(name: str, args: dict[str, Any]) -> dict[str, Any]:
    """A step's arguments for the ``image`` key alone (per-key lists reduced to the image's entry)."""
    keys = args.get("keys", "image")
    keys = keys if isinstance(keys, list) else [keys]
    index = keys.index("image") if "image" in keys else 0
    out = {}
    for arg, value in args.items():
        if arg == "keys":
            continue
        if arg in PER_KEY_ARGS and isinstance(value, list | tuple) and len(value) == len(keys) and len(keys) > 1:
            value = value[index]
        out[arg] = value
    if "source_key" in out:
        out["source_key"] = "image"
    return {"_target_": f"monai.transforms.{name}", "keys": "image", **out}


@dataclass
class Preprocessing:
    steps: list[dict[str, Any]] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)


def preprocessing(zoo: ZooConfig) -> Preprocessing:
    """The zoo's preprocessing steps medseg runs as declared; an unknown step is refused (it would change inputs)."""
    from monai import transforms as mt

    result = Preprocessing()
    for i, (name, raw) in enumerate(zoo.transforms("preprocessing")):
        if name in REPLACED:
            result.replaced.append(name)
            continue
        if name not in IMPORTED:
            raise BundleError(f"preprocessing step {name} is not one medseg imports ({', '.join(IMPORTED)}); "
                              "running the zoo bundle without it would change what the network sees", _source(zoo))
        node = _image_args(name, zoo.literal(raw, f"preprocessing#transforms#{i}"))
        try:
            getattr(mt, name)(**{k: v for k, v in node.items() if k != "_target_"})
        except (TypeError, ValueError) as exc:
            raise BundleError(f"preprocessing step {name}: {exc}", _source(zoo)) from exc
        result.steps.append(node)
    return result


@dataclass
class Postprocessing:
    mode: str | None = None  # overlapping (sigmoid) or exclusive (softmax/argmax); None: not declared
    threshold: float = 0.5
    largest_labels: list[int] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)


def postprocessing(zoo: ZooConfig) -> Postprocessing:
    """Read the zoo's post-processing as settings (see the module docstring)."""
    result = Postprocessing()
    for i, (name, raw) in enumerate(zoo.transforms("postprocessing")):
        if name == "Activationsd":
            args = zoo.literal({k: v for k, v in raw.items() if k in ("sigmoid", "softmax")}, f"postprocessing#{i}")
            result.mode = "overlapping" if args.get("sigmoid") else "exclusive" if args.get("softmax") else result.mode
        elif name == "AsDiscreted":
            args = zoo.literal({k: v for k, v in raw.items() if k in ("argmax", "threshold", "logit_thresh")},
                               f"postprocessing#{i}")
            if args.get("argmax"):
                result.mode = "exclusive"
            threshold = args.get("threshold", args.get("logit_thresh"))
            if isinstance(threshold, int | float) and not isinstance(threshold, bool):
                result.threshold = float(threshold)
        elif name == "KeepLargestConnectedComponentd":
            labels = zoo.literal(raw.get("applied_labels", []), f"postprocessing#{i}#applied_labels")
            result.largest_labels = [int(v) for v in (labels if isinstance(labels, list) else [labels])]
        else:
            result.replaced.append(name)
    return result


def inferer(zoo: ZooConfig) -> tuple[list[int], float, int]:
    """The zoo's sliding-window ROI, overlap and batch (ROI from the metadata's input shape if no inferer)."""
    try:
        roi = zoo.get("inferer#roi_size")
    except (KeyError, IndexError, TypeError, BundleError):
        shape = zoo.metadata.get("network_data_format", {}).get("inputs", {}).get("image", {}).get("spatial_shape")
        roi = shape if isinstance(shape, list) and all(isinstance(s, int) for s in shape) else [96, 96, 96]
    try:
        overlap = float(zoo.get("inferer#overlap"))
    except (KeyError, IndexError, TypeError, ValueError, BundleError):
        overlap = 0.5
    try:
        batch = int(zoo.get("inferer#sw_batch_size"))
    except (KeyError, IndexError, TypeError, ValueError, BundleError):
        batch = 1
    return [int(r) for r in roi], overlap, batch
