"""Gaussian heatmaps: vectorised rendering, sub-pixel decoding, crop <-> map coordinates, and the codec
(:class:`HeatmapCodec`: crop size, map size, sigma, encode, decode) that ties them to a model.

Pixel-centre convention everywhere: pixel ``i`` covers ``[i - 0.5, i + 0.5]``, so a crop of side
``S`` and a map of side ``H`` relate by ``map = (crop + 0.5) * H / S - 0.5``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from cmhm.models.hourglass import ModelConfig

LOG_FLOOR = 1e-10  # values are clamped here before taking logs in the sub-pixel refinement


def crop_to_map(pts: torch.Tensor, crop_size: int, map_size: int) -> torch.Tensor:
    """Crop pixels -> map pixels; ``pts`` [..., 2]."""
    return (pts + 0.5) * (map_size / crop_size) - 0.5


def map_to_crop(pts: torch.Tensor, crop_size: int, map_size: int) -> torch.Tensor:
    """Map pixels -> crop pixels; ``pts`` [..., 2]."""
    return (pts + 0.5) * (crop_size / map_size) - 0.5


def render_heatmaps(
    points: torch.Tensor, size: int | tuple[int, int], sigma: float, mask: torch.Tensor | None = None
) -> torch.Tensor:
    """Unnormalised Gaussians (peak 1) at ``points`` [B, K, 2] (x, y in map pixels) -> [B, K, H, W].

    Points that are NaN, or where ``mask`` [B, K] is False, give all-zero maps. The Gaussian is
    separable, so each map is an outer product of a row and a column profile.
    """
    h, w = (size, size) if isinstance(size, int) else size
    valid = torch.isfinite(points).all(-1)
    if mask is not None:
        valid = valid & mask.to(torch.bool)
    p = torch.where(valid[..., None], points, torch.zeros_like(points))
    xs = torch.arange(w, dtype=p.dtype, device=p.device)
    ys = torch.arange(h, dtype=p.dtype, device=p.device)
    gx = torch.exp(-((xs - p[..., :1]) ** 2) / (2 * sigma**2))  # [B, K, W]
    gy = torch.exp(-((ys - p[..., 1:]) ** 2) / (2 * sigma**2))  # [B, K, H]
    maps = gy[..., :, None] * gx[..., None, :]
    return maps * valid[..., None, None].to(maps.dtype)


def _log_parabola_offset(left: torch.Tensor, centre: torch.Tensor, right: torch.Tensor) -> torch.Tensor:
    """Vertex of the parabola through (-1, log left), (0, log centre), (1, log right), clamped to ±0.5.

    Exact for a sampled Gaussian, whose log is a parabola.
    """
    ll, lc, lr = (torch.log(v.clamp_min(LOG_FLOOR)) for v in (left, centre, right))
    curvature = ll - 2 * lc + lr
    safe = curvature < 0
    offset = 0.5 * (ll - lr) / torch.where(safe, curvature, -torch.ones_like(curvature))
    return torch.where(safe, offset, torch.zeros_like(offset)).clamp(-0.5, 0.5)


@torch.no_grad()
def decode_heatmaps(heatmaps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Sub-pixel peaks of ``heatmaps`` [B, K, H, W] -> (points [B, K, 2] in map pixels, peak value [B, K]).

    The integer argmax is refined per axis by the vertex of a parabola fitted to the log values of
    the peak and its two neighbours (no refinement along an axis where the peak is on the border).
    """
    b, k, h, w = heatmaps.shape
    flat = heatmaps.reshape(b, k, h * w)
    conf, idx = flat.max(-1)
    iy, ix = idx // w, idx % w

    def value(dy: int, dx: int) -> torch.Tensor:
        yy, xx = (iy + dy).clamp(0, h - 1), (ix + dx).clamp(0, w - 1)
        return flat.gather(-1, (yy * w + xx)[..., None])[..., 0]

    dx = _log_parabola_offset(value(0, -1), conf, value(0, 1))
    dy = _log_parabola_offset(value(-1, 0), conf, value(1, 0))
    dx = torch.where((ix > 0) & (ix < w - 1), dx, torch.zeros_like(dx))
    dy = torch.where((iy > 0) & (iy < h - 1), dy, torch.zeros_like(dy))
    pts = torch.stack([ix.to(heatmaps.dtype) + dx, iy.to(heatmaps.dtype) + dy], dim=-1)
    return pts, conf


@dataclass(frozen=True)
class HeatmapCodec:
    """The one map convention of a stage: crops of side ``crop_size`` <-> maps of side ``map_size`` whose
    Gaussians have std ``sigma`` map pixels (None: not known, e.g. a model file written before it was
    recorded; decoding does not need it, encoding refuses).

    Training encodes its targets with it, the cascade decodes with it, the model file records it
    (:meth:`cmhm.inference.model_file.CascadeFile.codec`), and the decoding floor reads it from there.
    """

    crop_size: int
    map_size: int
    sigma: float | None = None

    @classmethod
    def of(cls, model: ModelConfig, sigma: float | None = None) -> HeatmapCodec:
        """The codec of a stacked hourglass built from ``model`` (maps 1/:data:`STEM_STRIDE` of its input)."""
        return cls(model.in_size, model.map_size, sigma)

    def at_crop_size(self, crop_size: int) -> HeatmapCodec:
        """The same convention (map/crop ratio, sigma in map pixels) for crops of side ``crop_size``."""
        return HeatmapCodec(crop_size, crop_size * self.map_size // self.crop_size, self.sigma)

    def encode(self, points: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Crop-pixel ``points`` [B, K, 2] -> Gaussian maps [B, K, map_size, map_size] (:func:`render_heatmaps`)."""
        if self.sigma is None:
            raise ValueError(f"{self}: no sigma is known, so targets cannot be encoded")
        return render_heatmaps(
            crop_to_map(points, self.crop_size, self.map_size), self.map_size, self.sigma, mask
        )

    def decode(self, heatmaps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Maps [B, K, map_size, map_size] -> (sub-pixel peaks [B, K, 2] in crop pixels, peak values [B, K])."""
        pts, conf = decode_heatmaps(heatmaps)
        return map_to_crop(pts, self.crop_size, self.map_size), conf
