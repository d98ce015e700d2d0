"""Share a trained run: TorchScript and ONNX networks (checked against PyTorch) and a bundle zip.

``export_network`` writes ``models/model.ts`` or ``models/model.onnx`` into the run (MONAI's bundle
names) and verifies it on one random input of the bundle's ROI size: the exported network must give
the PyTorch logits within ``atol + rtol·|reference|`` (``TOLERANCE``). ONNX goes through
``torch.onnx.export(dynamo=True)`` with a dynamic batch and spatial size and is checked with
onnxruntime.

``zip_bundle`` packs what ``medseg infer`` needs (configs, weights, docs, licence; not the resume
checkpoint, predictions or reports); ``medseg.bundle.find.unpack_bundle`` is how ``find_bundle`` opens such a zip.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from medseg.bundle.find import find_bundle
from medseg.errors import BundleError, OutputError
from medseg.io.atomic import atomic_path
from medseg.runtime.checkpoint import load_weights, network_in_channels

FORMATS = ("torchscript", "onnx")
TOLERANCE = {"atol": 1e-4, "rtol": 1e-4}


@dataclass(frozen=True)
class ExportResult:
    path: Path
    max_abs_diff: float
    within_tolerance: bool


def _load_network(bundle) -> tuple[torch.nn.Module, tuple[int, ...], int]:
    """The run's network with its trained weights, its ROI size and input channels."""
    parser = bundle.parser("inference")
    network = parser.get_parsed_content("network_def")
    load_weights(network, bundle.model_path)
    roi = tuple(int(r) for r in parser.get_parsed_content("roi_size"))
    return network.eval(), roi, network_in_channels(network)


def _onnx(network: torch.nn.Module, example: torch.Tensor, output: Path) -> None:
    import logging
    import warnings

    from torch.export import Dim

    dims = {0: Dim("batch"), **{axis: Dim.AUTO for axis in range(2, example.dim())}}
    logger = logging.getLogger("torch.onnx")  # silences "torchvision is not installed" notices
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            program = torch.onnx.export(network, (example,), dynamo=True, input_names=["image"],
                                        output_names=["logits"], dynamic_shapes=(dims,), verbose=False)
    finally:
        logger.setLevel(level)
    with atomic_path(output) as tmp:
        program.save(str(tmp), external_data=False)


def _run_exported(fmt: str, path: Path, example: torch.Tensor) -> np.ndarray:
    if fmt == "torchscript":
        with torch.inference_mode():
            return torch.jit.load(str(path), map_location="cpu")(example).numpy()
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"image": example.numpy()})[0]


def export_network(run: str | Path, fmt: str, output: str | Path | None = None, seed: int = 0) -> ExportResult:
    """Export a trained run's network and verify it against PyTorch on the same input."""
    if fmt not in FORMATS:
        raise BundleError(f"export format must be one of {FORMATS}, got {fmt!r}", run)
    bundle = find_bundle(run)
    network, roi, channels = _load_network(bundle)
    example = torch.randn((1, channels, *roi), generator=torch.Generator().manual_seed(seed))
    output = Path(output) if output else bundle.root / "models" / ("model.ts" if fmt == "torchscript" else "model.onnx")
    try:
        if fmt == "torchscript":
            with torch.inference_mode():
                traced = torch.jit.trace(network, example)
            with atomic_path(output) as tmp:
                torch.jit.save(traced, str(tmp))
        else:
            _onnx(network, example, output)
    except OutputError:
        raise
    except Exception as exc:  # tracer/exporter failures come in many types
        raise OutputError(f"{fmt} export failed ({type(exc).__name__}: {str(exc).splitlines()[0]})", output) from exc
    with torch.inference_mode():
        reference = network(example).numpy()
    exported = _run_exported(fmt, output, example)
    diff = float(np.abs(exported - reference).max())
    ok = bool(np.allclose(exported, reference, **TOLERANCE))
    if not ok:
        raise OutputError(f"{fmt} output differs from PyTorch (max |Δ| {diff:.3g} beyond {TOLERANCE})", output)
    return ExportResult(output, diff, ok)


def zip_bundle(run: str | Path, output: str | Path | None = None) -> Path:
    """Zip a trained run (folder ``<name>/`` inside) so another machine can ``medseg infer`` it."""
    bundle = find_bundle(run)
    if not bundle.model_path.is_file():
        raise BundleError(f"no trained weights ({bundle.WEIGHTS.as_posix()}) to share; train first", bundle.root)
    output = Path(output) if output else bundle.root.parent / f"{bundle.root.name}.zip"
    if bundle.root in output.resolve().parents:
        raise OutputError("the zip cannot be written inside the bundle it packs", output)
    with atomic_path(output) as tmp, zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for relative in bundle.files(weights=True):
            archive.write(bundle.root / relative, f"{bundle.root.name}/{relative.as_posix()}")
    return output
