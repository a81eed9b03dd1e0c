"""Heatmap render -> decode round trip, coordinate conventions, Procrustes and warp round trips."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cmhm.geometry import apply_affine, invert_affine, procrustes, similarity_matrix
from cmhm.heatmaps import crop_to_map, decode_heatmaps, map_to_crop, render_heatmaps
from cmhm.warp import (
    apply_affine_torch,
    invert_affine_torch,
    similarity_procrustes,
    similarity_procrustes_np,
    warp_crops,
    warp_images,
)


@pytest.mark.parametrize("sigma", [1.0, 1.5, 2.0])
def test_render_decode_round_trip(sigma: float) -> None:
    g = torch.Generator().manual_seed(0)
    pts = torch.rand(4, 68, 2, generator=g, dtype=torch.float64) * 60 + 2  # [2, 62] on a 64² map
    got, conf = decode_heatmaps(render_heatmaps(pts, 64, sigma))
    assert (got - pts).abs().max() < 1e-3  # log-parabola refinement is exact for a sampled Gaussian
    assert conf.min() > 0.6 and conf.max() <= 1.0


def test_render_masks_and_nan_give_zero_maps() -> None:
    pts = torch.tensor([[[10.0, 10.0], [float("nan"), 3.0], [20.0, 5.0]]])
    maps = render_heatmaps(pts, (32, 40), 1.0, mask=torch.tensor([[True, True, False]]))
    assert maps.shape == (1, 3, 32, 40)
    assert maps[0, 0].max() == 1.0 and maps[0, 1:].abs().sum() == 0
    assert maps[0, 0, 10, 10] == 1.0  # row y, column x


def test_crop_map_conversion() -> None:
    pts = torch.tensor([[-0.5, 255.5], [127.5, 0.0]])
    m = crop_to_map(pts, 256, 64)
    assert torch.allclose(m[0], torch.tensor([-0.5, 63.5]))  # crop borders are map borders
    assert torch.allclose(m[1, 0], torch.tensor(31.5))  # centres stay centres
    assert torch.allclose(map_to_crop(m, 256, 64), pts)


def test_torch_procrustes_matches_numpy_reference() -> None:
    rng = np.random.default_rng(0)
    src = rng.normal(size=(3, 10, 2)) * 20
    dst = rng.normal(size=(10, 2)) * 30 + 5
    w = rng.uniform(0.1, 1.0, size=(3, 10))
    src[1, 4] = np.nan
    got = similarity_procrustes_np(src, dst, w)
    for i in range(3):
        np.testing.assert_allclose(got[i], procrustes(src[i], dst, w[i]), atol=1e-9)


def test_procrustes_recovers_similarity_and_unwarp_round_trip() -> None:
    rng = np.random.default_rng(1)
    A_true = np.stack(
        [similarity_matrix(s, a, tx, ty) for s, a, tx, ty in [(1.3, 0.4, 5, -7), (0.8, -1.0, 20, 3)]]
    )
    src = torch.as_tensor(rng.uniform(0, 128, size=(2, 68, 2)))
    dst = apply_affine_torch(torch.as_tensor(A_true), src)
    A = similarity_procrustes(src, dst)
    assert (A - torch.as_tensor(A_true)).abs().max() < 1e-9
    back = apply_affine_torch(invert_affine_torch(A.float()), apply_affine_torch(A.float(), src.float()))
    assert (back - src.float()).abs().max() < 1e-3


def _smooth_images(n: int, size: int) -> np.ndarray:
    y, x = np.mgrid[0:size, 0:size] / size
    img = np.stack([np.sin(6 * x + k) * np.cos(4 * y - k) for k in range(3)], -1) * 0.5 + 0.5
    return np.repeat((img * 255).astype(np.float32)[None], n, 0)


def test_torch_warp_matches_cv2_warp() -> None:
    size = 32
    A = np.stack([similarity_matrix(1.1, 0.3, 2.0, -3.0), similarity_matrix(0.9, -0.5, 6.0, 8.0)])
    imgs = _smooth_images(2, size)
    ref = warp_crops(imgs, A, size)
    got = warp_images(torch.from_numpy(imgs).permute(0, 3, 1, 2), torch.from_numpy(A).float(), size)
    got = got.permute(0, 2, 3, 1).numpy()
    inner = (slice(None), slice(4, -4), slice(4, -4))
    assert np.abs(got[inner] - ref[inner]).max() < 2.0  # of 255: cv2 rounds bilinear weights to 1/32


def test_warp_moves_a_dot_to_the_mapped_point() -> None:
    size = 48
    img = torch.zeros(1, 1, size, size)
    img[0, 0, 20, 12] = 1.0  # (x, y) = (12, 20)
    A = torch.from_numpy(similarity_matrix(1.0, np.pi / 2, 40.0, 2.0)[None]).float()
    out = warp_images(img, A, size)
    y, x = np.unravel_index(out[0, 0].argmax().item(), (size, size))
    expected = apply_affine(A.numpy()[0], np.array([[12.0, 20.0]]))[0]
    assert (x, y) == tuple(np.round(expected).astype(int))
    assert np.allclose(invert_affine(A.double().numpy()), invert_affine_torch(A.double()).numpy())
