"""``medseg bundle new|import-zoo|export``: bundles made from an image/mask folder, from the MONAI Model Zoo,
or from a trained run to share.

What the CLI does with options is here, so a Python caller gets what the CLI gets: ``--labels``
and ``--colour-table`` read into label specs, ``--label-map`` text into a mapping, each export
format to its writer.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from medseg.bundle.create import NewBundle, new_bundle
from medseg.bundle.export import TOLERANCE, export_network, zip_bundle
from medseg.bundle.zoo import ImportResult, import_zoo
from medseg.data.importers import parse_label_map
from medseg.errors import BundleError, UsageError
from medseg.io.coding import parse_labels, read_colour_table

__all__ = ["ImportResult", "create_bundle", "export_run", "import_zoo"]


def create_bundle(name: str, images: str | Path, masks: str | Path, labels: Sequence[str] = (),
                  colour_table: str | Path | None = None, dims: int | None = None, output: str | Path | None = None,
                  image_size: int | None = None, label_map: str | dict[int, int] | None = None,
                  ignore: int | None = None) -> NewBundle:
    """Bundle ``name`` from an image/mask folder pair, planned from the data (``medseg bundle new``).

    ``labels``: names in mask-value order, or how the masks store each (``membrane=0``, ``road=128,64,128``);
    ``colour_table``: a file of ``NAME R G B`` lines; ``label_map``: mask value → label value (``"255=1"``);
    ``ignore``: the mask value of unannotated pixels (void).
    """
    specs = (read_colour_table(colour_table) if colour_table else []) + parse_labels(labels)
    if not specs:
        raise UsageError("name the labels: --labels NAME[,NAME...] or --colour-table FILE")
    if isinstance(label_map, str):
        label_map = parse_label_map(label_map) if label_map else None
    return new_bundle(name, images, masks, specs, dims=dims, output=output, image_size=image_size, label_map=label_map,
                      ignore=ignore)


def export_run(run: str | Path, formats: Sequence[str], output: str | Path | None = None) -> list[str]:
    """Export a trained run per format (``torchscript``, ``onnx``: checked against PyTorch; ``zip``: the run to
    share); one line per file written, saying how close an exported network came to PyTorch."""
    if output and len(formats) > 1:
        raise BundleError("--output needs a single --format")
    lines = []
    for fmt in formats:
        if fmt == "zip":
            lines.append(str(zip_bundle(run, output)))
            continue
        result = export_network(run, fmt, output)
        lines.append(f"{result.path}  (max |Δ| vs PyTorch {result.max_abs_diff:.2e}; "
                     f"tolerance atol {TOLERANCE['atol']:g} + rtol {TOLERANCE['rtol']:g})")
    return lines
