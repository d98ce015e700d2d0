"""The ``Predictor``: sliding-window probabilities, schema-driven labels, every output on the input grid.

Its collaborators are the other modules of ``medseg.inference``: which cases (``inputs``), which window
(``window``), several runs (``ensemble``), flips (``tta``), the rules after (``postprocessing``), a study's own
files (``studies``).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from medseg.bundle.find import find_bundle
from medseg.errors import BundleError, InferenceStopped, InputError, MedsegWarning, find_medseg_error
from medseg.inference.ensemble import check_members, mean_probabilities
from medseg.inference.inputs import cases_for
from medseg.inference.postprocessing import PostProcessing
from medseg.inference.studies import study_writers
from medseg.inference.tta import FlipTTA
from medseg.inference.window import window_for
from medseg.io.atomic import atomic_set, prepare_output_dir
from medseg.io.caseid import check_unique_ids
from medseg.io.checks import check_case_headers
from medseg.io.geometry import bounding_box, voxel_volume
from medseg.io.masks import is_bitmap
from medseg.io.read import CaseFiles, check_study_size, is_nifti
from medseg.io.validate import explain_load_failure
from medseg.labels import LabelSchema
from medseg.modalities import ModalitySubsets, missing_sequences_message
from medseg.outputs.measurements import reference_affine
from medseg.outputs.nifti import NiftiLabelWriter
from medseg.outputs.prediction import OutputWriter, Prediction
from medseg.outputs.probabilities import ProbabilityWriter
from medseg.runtime.checkpoint import load_weights, network_in_channels
from medseg.runtime.device import resolve_device, use_amp
from medseg.runtime.stop import StopRequest
from medseg.study import StudyOptions


class Predictor:
    """Segment studies with a trained network (API first; ``medseg infer`` is a thin layer over it).

    >>> predictor = Predictor.from_bundle("runs/brain_tumor/demo")      # doctest: +SKIP
    >>> predictor.predict_to_dir(["study/"], "out/")                    # doctest: +SKIP
    """

    def __init__(
        self,
        network: torch.nn.Module,
        schema: LabelSchema,
        preprocessing: Callable[[dict[str, Any]], dict[str, Any]],
        roi_size: Sequence[int],
        modalities: Sequence[str] = ("image",),
        overlap: float = 0.5,
        sw_batch_size: int = 1,
        checkpoint: str | Path | None = None,
        device: str | torch.device = "auto",
        threshold: float = 0.5,
        writers: Sequence[OutputWriter] | None = None,
        whole_volume_voxels: int = 0,
        postprocessing: PostProcessing | None = None,
        tta: FlipTTA | None = None,
        postprocess: Callable[[np.ndarray], np.ndarray] | None = None,
        require_any: Sequence[str] | None = None,
        ignore_modalities: Sequence[str] = (),
    ) -> None:
        self.device = resolve_device(device)
        self.network = network.to(self.device).eval()
        if checkpoint is not None:
            load_weights(self.network, checkpoint)
        self.schema = schema
        self.preprocessing = preprocessing
        self.roi_size = tuple(int(r) for r in roi_size)
        self.modalities = list(modalities)
        self.overlap = overlap
        self.sw_batch_size = sw_batch_size
        self.threshold = threshold
        self.whole_volume_voxels = int(whole_volume_voxels)
        self.writers = list(writers) if writers is not None else [NiftiLabelWriter()]
        self.postprocessing = postprocessing
        self.tta = tta
        self.postprocess = postprocess  # overlapping mode: binary masks (C, *spatial) -> cleaned masks
        # which sequences a study may lack (the bundle's metadata ``modality_subsets``; none by default)
        self.subsets = ModalitySubsets.build(self.modalities, require_any)
        # sequences this run does not use though a study has them (the plan's rare-sequence rule): blanked
        self.ignored = tuple(m for m in self.modalities if m in set(ignore_modalities))
        if set(ignore_modalities) - set(self.ignored) or (self.ignored and not self.subsets.allows_missing):
            raise BundleError(f"ignore_modalities {list(ignore_modalities)}: only sequences a study may lack can be "
                              f"left out (bundle modalities {self.modalities}, {self.subsets.describe()})")
        self.members: list[Predictor] = []  # further runs whose probabilities are averaged (``ensemble``)

    @classmethod
    def from_bundle(
        cls, bundle: str | Path, device: str = "auto", overrides: dict[str, Any] | None = None, trust: bool = False,
        tta: bool = False, probabilities: str | None = None,
    ) -> Predictor:
        """Build from a bundle or a trained run directory (its ``configs/inference.json``).

        ``trust`` allows a bundle from outside medseg and the user's own runs (its configs run code).
        ``tta`` averages the flips the bundle declares (a bundle that declares none is refused: guessed
        flips would swap left and right structures). ``probabilities`` (``"uint8"`` or ``"float16"``)
        also writes per-class probabilities beside each label map.
        """
        source = find_bundle(bundle)
        overrides = dict(overrides or {})
        if tta:
            if source.parser("inference", trust=trust).get("tta") is None:
                raise BundleError("this bundle declares no test-time augmentation ('tta'); flips are not guessed "
                                  "because they would swap left and right structures",
                                  source.config_files("inference")[0])
            overrides["use_tta"] = True
        parser = source.parser("inference", overrides=overrides, trust=trust)
        parser["device"] = device
        try:
            predictor = parser.get_parsed_content("predictor")
        except RuntimeError as exc:  # MONAI wraps a CheckpointError/InputError raised while building
            raise find_medseg_error(exc) or exc from exc
        if probabilities is not None:
            predictor.writers.append(ProbabilityWriter(probabilities))
        return predictor

    @classmethod
    def from_bundles(
        cls, bundles: Sequence[str | Path], device: str = "auto", overrides: dict[str, Any] | None = None,
        trust: bool = False, tta: bool = False, probabilities: str | None = None,
    ) -> Predictor:
        """An ensemble of trained runs (e.g. the k folds of one task): their probabilities are averaged.

        The first run's post-processing, outputs and settings apply; all must share the label schema.
        """
        first = cls.from_bundle(bundles[0], device, overrides, trust, tta, probabilities)
        others = [cls.from_bundle(b, device, overrides, trust, tta) for b in bundles[1:]]
        return first.ensemble(others, list(bundles[1:]))

    @property
    def spatial_dims(self) -> int:
        return len(self.roi_size)

    def window_for(self, spatial_shape: Sequence[int]) -> tuple[int, ...]:
        """The ROI for an image (``medseg.inference.window``): the whole image in one pass where safe."""
        return window_for(self.network, self.roi_size, self.whole_volume_voxels, spatial_shape)

    def logits(self, image: torch.Tensor) -> torch.Tensor:
        """Gaussian-weighted sliding-window logits for one preprocessed image (C, *spatial)."""
        from monai.inferers import sliding_window_inference

        batch = image.as_tensor()[None] if hasattr(image, "as_tensor") else image[None]
        with torch.inference_mode(), torch.autocast(self.device.type, enabled=use_amp(self.device)):
            out = sliding_window_inference(
                batch.to(self.device, non_blocking=True), self.window_for(batch.shape[2:]), self.sw_batch_size,
                self.network, overlap=self.overlap, mode="gaussian",
            )
        return out[0].float()

    def probabilities(self, logits: torch.Tensor) -> torch.Tensor:
        """Sigmoid per channel (overlapping) or softmax across channels (exclusive)."""
        return torch.sigmoid(logits) if self.schema.mode == "overlapping" else torch.softmax(logits, 0)

    def to_masks(self, probabilities: np.ndarray) -> np.ndarray:
        """Overlapping mode: each channel thresholded on its own, then the bundle's mask-level ``postprocess``."""
        masks = probabilities > self.threshold
        return np.asarray(self.postprocess(masks), dtype=bool) if self.postprocess is not None else masks

    def label_and_masks(self, probabilities: np.ndarray, case: CaseFiles) -> tuple[np.ndarray, np.ndarray | None]:
        """The one post-processed result every writer reads: the label map and, for overlapping schemas,
        each channel's mask, in agreement voxel for voxel.

        Structures a label map holds (exclusive labels; overlapping regions made of label values, BraTS
        WT ⊃ TC ⊃ ET) are read back from the post-processed label map, so a piece a rule removes is gone
        from the ``.seg.nrrd``, the measurements and the DICOM SEG too. Single-label channels that overlap
        (a clavicle over a lung), which no label map holds, are post-processed as masks and painted.
        """
        schema, rules = self.schema, self.postprocessing
        if schema.mode == "exclusive":
            label = schema.argmax_to_label_map(probabilities.argmax(0))
            return (rules.on_label(label, schema, self.voxel_size(case)) if rules else label), None
        masks = self.to_masks(probabilities)
        if schema.label_per_channel:
            masks = rules.on_masks(masks, schema, self.voxel_size(case)) if rules else masks
            return schema.channels_to_label_map(masks), masks
        label = schema.channels_to_label_map(masks)
        if rules:
            label = rules.on_label(label, schema, self.voxel_size(case))
        masks = np.zeros(masks.shape, bool)  # untouched pages stay unwritten: only the box is filled
        box = bounding_box(label != 0)  # no region holds background: read the regions inside the tumour's box
        if box is not None:
            masks[(slice(None), *box)] = schema.label_map_to_masks(label[box])
        return label, masks

    def voxel_size(self, case: CaseFiles) -> float:
        """mm³ (3D) or mm² (2D) of one voxel of the case's own grid, as the outputs place it; 1 for a bitmap
        (PNG, JPEG, TIFF: no pixel size is stored, and a colour photograph is no X-ray to read one from)."""
        if is_bitmap(case.reference):
            return 1.0
        return voxel_volume(reference_affine(case.reference)[0], self.spatial_dims)

    def check_case(self, case: CaseFiles) -> None:
        """Header-level checks (readable, one grid, channel count, dimensionality, size) before any pixels load.

        A study may lack the sequences the bundle can do without (``self.subsets``)."""
        if case.missing or self.unused(case):
            try:
                self.subsets.check(self.sequences_used(case), case.reference)
            except InputError as exc:
                if not self.unused(case):
                    raise
                raise InputError(f"{exc.message}; this run does not use {', '.join(self.unused(case))} (its training "
                                 "cases rarely had them: ignore_modalities in its configs)", case.reference) from None
        shape = check_case_headers(case, self.network_in_channels, self.spatial_dims,
                                   self.schema.mode == "overlapping")
        if is_nifti(case.reference):  # X-rays are checked by medseg.io.xray
            check_study_size(tuple(s for s in shape if s > 1) if self.spatial_dims == 2 else shape, case.reference)

    def load(self, case: CaseFiles) -> dict[str, Any]:
        """Check headers, then run the preprocessing chain; unreadable, NaN/Inf or blank data is refused.

        When the chain starts by loading (a MONAI ``LoadImaged``), the first sequence as loaded, on its own
        grid, is kept under ``"reference_image"`` for the sanity figures, which would otherwise read it again.
        """
        from monai.transforms import Compose, LoadImaged

        self.check_case(case)
        images = [str(p) for p in case.images]
        item: dict[str, Any] = {"image": images if len(images) > 1 else images[0]}
        if case.channel_order is not None:
            item["channel_order"] = list(case.channel_order)
        if case.missing:  # zero channels after the z-score, as modality dropout blanks them in training
            item["missing_channels"] = self.subsets.channel_indices(case.missing)
        if self.unused(case):  # read, then blanked the same way
            item["blank_channels"] = self.subsets.channel_indices(self.unused(case))
        chain = self.preprocessing
        try:
            if not (isinstance(chain, Compose) and chain.transforms and isinstance(chain.transforms[0], LoadImaged)):
                return chain(item)
            loaded = chain(item, end=1)
            reference = torch.as_tensor(loaded["image"][0]).numpy(force=True).copy()  # the stack is freed later
            return {**chain(loaded, start=1), "reference_image": reference}
        except Exception as exc:  # MONAI wraps errors from inside the chain in RuntimeError
            raise explain_load_failure(exc, case.images) from exc

    @property
    def network_in_channels(self) -> int:
        return network_in_channels(self.network)

    def predict(self, case: CaseFiles) -> Prediction:
        """Probabilities, label map and masks of one case on the case's own grid (preprocessing inverted).

        Probabilities are brought back through ``Invertd`` (linear where the chain resampled, exact
        where it only flipped or permuted axes) and labelled afterwards, so the label map is the
        schema's rule applied on the input grid, then post-processed (``label_and_masks``).
        """
        if case.missing:
            # medseg: warning: <the study's folder>: missing sequences ...
            warnings.warn(missing_sequences_message(case.folder, case.missing, self.subsets), MedsegWarning,
                          stacklevel=2)
        if self.unused(case):
            warnings.warn(f"{case.folder}: {', '.join(self.unused(case))} not used: this run's training cases rarely "
                          f"had them (segmented from {', '.join(self.sequences_used(case))})", MedsegWarning,
                          stacklevel=2)
        data = self.load(case)
        probabilities = mean_probabilities(self.grid_probabilities(case, data), self.members, case)
        if self.postprocessing is not None:
            probabilities = self.postprocessing.on_probabilities(probabilities, self.schema)
        label, masks = self.label_and_masks(probabilities, case)
        return Prediction(case, label, probabilities, self.schema, masks, self.sequences_used(case),
                          data.get("reference_image"), self.unused(case))

    def unused(self, case: CaseFiles) -> tuple[str, ...]:
        """The sequences the study has that this run leaves out (``ignore_modalities``)."""
        return tuple(m for m in self.ignored if m not in case.missing)

    def sequences_used(self, case: CaseFiles) -> tuple[str, ...]:
        """The sequences the network sees: the study's, less those this run leaves out."""
        return tuple(m for m in self.modalities if m not in case.missing and m not in self.ignored)

    def grid_probabilities(self, case: CaseFiles, data: dict[str, Any] | None = None) -> np.ndarray:
        """This network's probabilities (C, *spatial) on the case's own grid (preprocessing inverted);
        ``data``: the case as ``load`` gave it, when already loaded."""
        from monai.data import MetaTensor
        from monai.transforms import Invertd

        data = self.load(case) if data is None else data

        def predict(image: torch.Tensor) -> torch.Tensor:
            return self.probabilities(self.logits(image)).cpu()

        probabilities = self.tta(predict, data["image"]) if self.tta else predict(data["image"])
        data["pred"] = MetaTensor(probabilities, meta=dict(data["image"].meta))
        inverted = Invertd("pred", transform=self.preprocessing, orig_keys="image", nearest_interp=False)(data)
        return np.asarray(inverted["pred"].cpu().numpy(), dtype=np.float32)  # a fresh array: no copy needed

    def ensemble(self, others: Sequence[Predictor], names: Sequence[str | Path] = ()) -> Predictor:
        """Average these predictors' probabilities with this one's (``medseg.inference.ensemble``): each
        must have this one's output channels, labels and modalities; the rest is this predictor's."""
        check_members(self, others, names)
        self.members.extend(others)
        return self

    def predict_to_files(self, case: CaseFiles, output_dir: str | Path,
                         extra_writers: Sequence[OutputWriter] = ()) -> list[Path]:
        """Run every output writer (by default the NIfTI label map), then ``extra_writers``, for one case.

        The case's files appear together or not at all (``atomic_set``): a writer failing late
        leaves none of the earlier writers' files behind.
        """
        prediction = self.predict(case)
        with atomic_set():
            return [path for writer in (*self.writers, *extra_writers) for path in writer(prediction, Path(output_dir))]

    def resolve_inputs(self, inputs: Sequence[str | Path], series: str | None = None,
                       study: StudyOptions | None = None) -> list[CaseFiles]:
        """What ``--input`` means for this bundle (``medseg.inference.inputs``)."""
        return cases_for(inputs, self.modalities, self.spatial_dims, self.subsets, series, study)

    def predict_to_dir(self, inputs: Sequence[str | Path], output_dir: str | Path, progress: bool = True,
                       series: str | None = None, study: StudyOptions | None = None) -> list[Path]:
        """Segment every case; show a progress bar; return the written paths. With ``study`` (``medseg infer
        --register``) the study's own files are written too (``medseg.outputs.study.StudyWriter``).

        SIGINT/SIGTERM stop after the current case's files are complete (``InferenceStopped``): a killed
        batch leaves finished cases whole and no temporary files; a second Ctrl-C stops at once, and the
        case's pending files are removed. Each path is returned once.
        """
        from tqdm.auto import tqdm

        extra = study_writers(study, self.writers)  # this call's: transforms, aligned sequences, registration figures
        cases = self.resolve_inputs(inputs, series, study)
        check_unique_ids((case.case_id, case.images[0]) for case in cases)  # one case's files would replace another's
        for case in cases:  # every header first: a bad case late in a list fails before any output
            self.check_case(case)
        prepare_output_dir(output_dir)
        bar = tqdm(cases, desc="infer", unit="case", disable=None if progress else True)  # None: off when not a TTY
        written: list[Path] = []
        with StopRequest("finishing this case's files") as stop:
            for done, case in enumerate(bar, start=1):
                written += self.predict_to_files(case, output_dir, extra)
                if stop.signal is not None and done < len(cases):
                    raise InferenceStopped(f"stopped by {stop.name} after {done} of {len(cases)} cases (their outputs "
                                           "are complete; the others were not started)", output_dir)
        return list(dict.fromkeys(written))  # files every case writes again (the bundle's .ctbl) once
