"""Known transforms the tests build to check the package's estimates and warps against."""

import numpy as np


def similarity_matrix(scale: float, angle: float, tx: float, ty: float) -> np.ndarray:
    """[2, 3] similarity: rotate by ``angle`` (radians, counter-clockwise in x-right/y-up terms), scale, translate."""
    c, s = np.cos(angle) * scale, np.sin(angle) * scale
    return np.array([[c, -s, tx], [s, c, ty]], dtype=np.float64)
