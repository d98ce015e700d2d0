"""Which sequence subsets a bundle supports, and the errors and warning lines about them."""

import pytest

from medseg.bundle.find import find_bundle
from medseg.errors import InputError
from medseg.modalities import ModalitySubsets, missing_sequences_message


def test_brain_tumor_declares_t1ce_or_flair():
    subsets = ModalitySubsets.from_metadata(find_bundle("brain_tumor").metadata)
    assert subsets.modalities == ("t1", "t1ce", "t2", "flair")
    assert subsets.supports(["t1ce", "flair"]) and subsets.supports(["flair"]) and subsets.supports(["t1", "t1ce"])
    assert not subsets.supports(["t1", "t2"])
    assert subsets.check(["t1ce", "flair"]) == ("t1", "t2")
    with pytest.raises(InputError, match="missing sequences t1ce, flair; the bundle needs any subset containing"):
        subsets.check(["t1", "t2"], "case")


def test_a_bundle_without_the_declaration_needs_everything():
    subsets = ModalitySubsets.from_metadata({"medseg": {"modalities": ["t1", "flair"]}})
    assert not subsets.allows_missing
    with pytest.raises(InputError, match="needs all of t1, flair"):
        subsets.check(["flair"])


def test_unknown_modality_in_the_declaration():
    with pytest.raises(InputError, match="unknown modalities"):
        ModalitySubsets.build(["t1"], ["dwi"])


def test_warning_names_the_missing_sequences():
    subsets = ModalitySubsets.build(["t1", "t1ce", "t2", "flair"], ["t1ce", "flair"])
    assert missing_sequences_message("case7", ("t1", "t2"), subsets).startswith("case7: missing sequences t1, t2 (")
