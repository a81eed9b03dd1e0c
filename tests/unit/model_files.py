"""A model file around a cascade with no detector, tracking check or provenance: what the aligner
tests need to build a :class:`FaceAligner` without training."""

from torch import nn

from cmhm.inference.model_file import CascadeFile, CropConvention


def bare_model_file(cascade: nn.Module, crop_size: int) -> CascadeFile:
    """A two-stage cmhm model file (union68 -> ibug68) around ``cascade`` for ``crop_size`` px crops."""
    return CascadeFile(
        cascade=cascade,
        variant="cmhm",
        markups=[["union68"], ["ibug68"]],
        crop=CropConvention(size=crop_size, box_scale=1.3),
        detector=None,
        tracking={},
        config_digest="",
        code_version="",
        config={},
    )
