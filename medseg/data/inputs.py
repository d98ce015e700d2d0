"""What ``--input`` means, in one place: every form a user may pass, turned into cases.

=============================================  ==============================================================
input                                          cases
=============================================  ==============================================================
manifest (``*.json``)                          its ``test`` cases, else all of them, with its channel order
folder of NIfTI files                          one case: one ``*_<modality>.nii[.gz]`` per bundle modality
                                               (with ``subsets``: those the bundle can do without may lack)
``study``: a clinical study folder             one case: sequences identified and registered (``medseg.study``)
DICOM series folder                            one case: the series (``series``: which UID) as cached NIfTI
NIfTI file                                     one case (a 4D file holds every modality)
X-ray file (DICOM, PNG, JPEG)                  one case
``per_image`` (1-modality 2D): folder         one case per 2D image (PNG/JPEG/TIFF/NIfTI/DICOM), named by file
``per_image``: a 2D image file                 one case
=============================================  ==============================================================
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from medseg.data.manifest import load_manifest
from medseg.errors import InputError
from medseg.io.caseid import check_unique_ids
from medseg.io.dicom import is_dicom_folder, series_image
from medseg.io.masks import BITMAP_SUFFIXES, is_bitmap
from medseg.io.read import NIFTI_SUFFIXES, CaseFiles, case_id_from_path, find_case_modalities, find_modalities, is_nifti
from medseg.io.xray import is_xray_file
from medseg.modalities import ModalitySubsets
from medseg.study import StudyOptions, prepare_study


def resolve_inputs(inputs: Sequence[str | Path], modalities: Sequence[str], series: str | None = None,
                   per_image: bool = False, subsets: ModalitySubsets | None = None,
                   study: StudyOptions | None = None) -> list[CaseFiles]:
    """The cases of every input, in order (see the module's table).

    ``subsets``: the sequences a study may lack (``medseg.modalities``); ``study``: folders are
    clinical studies to identify and register; ``per_image``: a 2D bundle's folders are batches.
    """
    cases: list[CaseFiles] = []
    for item in map(Path, inputs):
        if item.suffix == ".json":
            manifest = load_manifest(item, modalities=list(modalities))
            chosen = manifest.cases("test") or manifest.all_cases()
            check_unique_ids(((case.case_id, item) for case in chosen), item)
            order = tuple(manifest.channel_order) if manifest.channel_order is not None else None
            cases.extend(replace(case, channel_order=order) if order is not None else case for case in chosen)
        elif per_image:
            cases.extend(_images(item))
        elif study is not None:
            cases.append(prepare_study(item, list(modalities), study, subsets))
        else:
            cases.append(resolve_case(item, list(modalities), series, subsets))
    return cases


def resolve_case(path: str | Path, modalities: list[str], series: str | None = None,
                 subsets: ModalitySubsets | None = None) -> CaseFiles:
    """One study: a case folder, a DICOM series folder, a NIfTI file or an X-ray (rows 2-5 of the table)."""
    path = Path(path)
    if path.is_dir():
        if not any(is_nifti(p) for p in path.iterdir()) and is_dicom_folder(path):
            image, slices = series_image(path, series)
            return CaseFiles(case_id_from_path(path), (image,), dicom_series=slices)
        if subsets is not None and subsets.allows_missing:
            images, missing = find_case_modalities(path, subsets)
            return CaseFiles(case_id_from_path(path), images, missing=missing)
        return CaseFiles(case_id_from_path(path), find_modalities(path, modalities))
    if not path.exists():
        raise InputError("input not found", path)
    if is_nifti(path) or is_xray_file(path):
        return CaseFiles(case_id_from_path(path, modalities), (path,))
    raise InputError("expected a case folder, a .nii/.nii.gz file or an X-ray (DICOM, PNG, JPEG)", path)


def _is_image(path: Path) -> bool:
    """A 2D image file; DICOM X-rays are found by content (CR/DX exports often have no suffix)."""
    if not path.is_file() or path.name.upper() == "DICOMDIR":
        return False
    return is_bitmap(path) or is_nifti(path) or is_xray_file(path)


def _images(item: Path) -> list[CaseFiles]:
    """A 2D bundle's input: a folder is a batch of images, a file one image (rows 6-7 of the table)."""
    if item.is_dir():
        files = sorted(p for p in item.iterdir() if _is_image(p))
        if not files:
            raise InputError("no 2D images (PNG/JPEG/TIFF/NIfTI/DICOM) in the folder", item)
        return [CaseFiles(_stem(p), (p,)) for p in files]
    if _is_image(item):
        return [CaseFiles(_stem(item), (item,))]
    raise InputError("expected a 2D image file (PNG/JPEG/TIFF/NIfTI/DICOM), a folder of them, or a manifest", item)


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (*BITMAP_SUFFIXES, *NIFTI_SUFFIXES):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem
