"""cmhm: Cascade Multi-view Hourglass Model for robust 3D face alignment (Deng et al., FG 2018)."""

__version__ = "0.1.0"


def load(path, device: str = "auto", batch_size: int = 16):
    """A trained model file (``cascade.pt``) ready to align faces: ``cmhm.load(path).predict(image)``."""
    from cmhm.api import load as _load

    return _load(path, device=device, batch_size=batch_size)
