"""Heatmap render -> decode round trip, coordinate conventions, Procrustes and warp round trips."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cmhm.geometry.image_warp import warp_crops
from cmhm.geometry.similarity import apply_affine, invert_affine, procrustes
from cmhm.geometry.warp import (
    apply_affine_torch,
    invert_affine_torch,
    similarity_procrustes,
    warp_images,
)
from cmhm.models.heatmaps import HeatmapCodec, crop_to_map, decode_heatmaps, map_to_crop, render_heatmaps

from .known_transforms import similarity_matrix


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
    """The model's batched, differentiable Procrustes (torch) and the data side's (numpy SVD) are one fit."""
    rng = np.random.default_rng(0)
    src = rng.normal(size=(3, 10, 2)) * 20
    dst = rng.normal(size=(10, 2)) * 30 + 5
    w = rng.uniform(0.1, 1.0, size=(3, 10))
    src[1, 4] = np.nan
    got = similarity_procrustes(torch.as_tensor(src), torch.as_tensor(dst)[None], torch.as_tensor(w)).numpy()
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


# Two similarities that send part of each 32² output outside the source, so the zero border is tested too.
WARP_A = np.stack([similarity_matrix(1.1, 0.3, 2.0, -3.0), similarity_matrix(0.9, -0.5, 6.0, 8.0)])
# OpenCV 4.x warpAffine rounds each source coordinate to 1/32 px (INTER_BITS = 5) after rounding its two
# terms to 1/1024 px (AB_BITS = 10): a sampling error of at most 1/64 + 1/1024 px per axis. OpenCV 5
# samples in floating point (error ~0).
CV2_COORD_ERROR = 1 / 64 + 1 / 1024


def _bilinear_reference(images: np.ndarray, A: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact float64 bilinear warp of ``images`` [N, S, S, C] by pixel affines ``A`` [N, 2, 3] into
    [N, size, size, C], zeros outside the image, and the mask [N, size, size] of output pixels whose
    four source taps all lie inside the image."""
    n, s = images.shape[:2]
    pad = np.pad(images.astype(np.float64), ((0, 0), (2, 2), (2, 2), (0, 0)))  # zero ring, index + 2
    yy, xx = np.mgrid[0:size, 0:size]
    src = apply_affine(invert_affine(A), np.stack([xx.ravel(), yy.ravel()], -1)[None])  # [N, P, 2]
    inside = ((src >= 0) & (src <= s - 1)).all(-1).reshape(n, size, size)
    src = np.clip(src, -1, s)  # one pixel or more outside, every tap is in the zero ring anyway
    x0, y0 = np.floor(src[..., 0]).astype(int), np.floor(src[..., 1]).astype(int)
    fx, fy = (src[..., 0] - x0)[..., None], (src[..., 1] - y0)[..., None]
    rows = np.arange(n)[:, None]

    def tap(dy: int, dx: int) -> np.ndarray:
        return pad[rows, y0 + dy + 2, x0 + dx + 2]  # [N, P, C]

    top = (1 - fx) * tap(0, 0) + fx * tap(0, 1)
    bottom = (1 - fx) * tap(1, 0) + fx * tap(1, 1)
    return ((1 - fy) * top + fy * bottom).reshape(n, size, size, -1), inside


def _slope(images: np.ndarray, pad: bool) -> float:
    """Largest |step| between neighbouring pixels of ``images`` [N, S, S, C] along x plus along y (with
    ``pad``, of the image inside its zero border): the bilinear interpolant's Lipschitz bound per px."""
    img = images.astype(np.float64)
    img = np.pad(img, ((0, 0), (1, 1), (1, 1), (0, 0))) if pad else img
    return float(np.abs(np.diff(img, axis=2)).max() + np.abs(np.diff(img, axis=1)).max())


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_torch_warp_is_exact_bilinear(dtype: torch.dtype) -> None:
    size = 32
    imgs = _smooth_images(2, size)
    ref, _ = _bilinear_reference(imgs, WARP_A, size)
    got = warp_images(torch.from_numpy(imgs).to(dtype).permute(0, 3, 1, 2), torch.from_numpy(WARP_A), size)
    err = np.abs(got.permute(0, 2, 3, 1).double().numpy() - ref).max()
    # float32: grid coordinates carry a few 1e-6 px of rounding, times the 255/px step at the zero border
    assert err < (1e-9 if dtype == torch.float64 else 0.01)  # of 255, whole image, border included


@pytest.mark.parametrize("dtype", [np.float32, np.uint8])
def test_cv2_warp_is_bilinear_within_its_coordinate_rounding(dtype: type) -> None:
    """cv2 (:func:`warp_crops`, used for crops and stage-2 training inputs) against the exact reference:
    at most :data:`CV2_COORD_ERROR` px times the interpolant's slope, plus uint8 rounding (0.5) and
    OpenCV 4.x's 15-bit uint8 weights (4 * 255 / 2^16). Holds for OpenCV 4.x and 5.x alike."""
    size = 32
    imgs = _smooth_images(2, size).round().astype(dtype)
    ref, inside = _bilinear_reference(imgs, WARP_A, size)
    err = np.abs(warp_crops(imgs, WARP_A, size).astype(np.float64) - ref)
    slack = 0.01 if dtype == np.float32 else 0.5 + 4 * 255 / 2**16
    assert inside.mean() > 0.5 and not inside.all()
    assert err[inside].max() < CV2_COORD_ERROR * _slope(imgs, pad=False) + slack  # ~0.66 (+ slack)
    assert err.max() < CV2_COORD_ERROR * _slope(imgs, pad=True) + slack  # the zero border: ~255 per px


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


def test_codec_is_the_render_and_decode_it_replaced_bit_for_bit() -> None:
    """encode = render(crop_to_map), decode = map_to_crop(decode): the same operations in the same order,
    so training targets, the cascade's decode and the decoding floor are unchanged to the bit."""
    g = torch.Generator().manual_seed(0)
    pts = 8 + torch.rand(3, 5, 2, generator=g) * 48  # inside the map: exact Gaussians decode exactly
    pts[0, 1] = float("nan")
    mask = torch.isfinite(pts).all(-1)
    codec = HeatmapCodec(64, 16, 1.5)
    maps = codec.encode(pts, mask)
    assert torch.equal(maps, render_heatmaps(crop_to_map(pts, 64, 16), 16, 1.5, mask))
    got, conf = codec.decode(maps)
    want, want_conf = decode_heatmaps(maps)
    assert torch.equal(got, map_to_crop(want, 64, 16)) and torch.equal(conf, want_conf)
    assert torch.allclose(got[mask], pts[mask], atol=0.05 * 4)  # 0.05 map px (float32 logs), in crop px


def test_codec_at_another_crop_size_keeps_ratio_and_sigma() -> None:
    assert HeatmapCodec(128, 32, 1.0).at_crop_size(64) == HeatmapCodec(64, 16, 1.0)
    with pytest.raises(ValueError, match="no sigma"):
        HeatmapCodec(64, 16).encode(torch.zeros(1, 1, 2))
