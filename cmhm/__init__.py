"""cmhm: Cascade Multi-view Hourglass Model for robust 3D face alignment (Deng et al., FG 2018)."""

import importlib

from cmhm.version import __version__

__all__ = ["__version__", "load"]


def load(path, device: str = "auto", batch_size: int = 16, **options):
    """A trained model file (``cascade.pt``) or its ONNX export ready to align faces:
    ``cmhm.load(path).predict(image)``. ``options``: the keywords of :func:`cmhm.inference.api.load`
    (``fast``, ``backend``, ``threads``, ``cuda_graph``, ``compiled``, ``precision``)."""
    # imported here by name, not by an import statement: the pipeline's code hashes follow import
    # statements (cmhm.pipeline.provenance.import_closure_hash), and no workflow script runs this convenience
    api = importlib.import_module("cmhm.inference.api")
    return api.load(path, device=device, batch_size=batch_size, **options)
