"""Every knob of the synthetic-face generator, in one frozen dataclass.

``SynthConfig(**d)`` builds it from a plain dict (lists are accepted where tuples are expected).
Angles are degrees, sizes are pixels unless a field says "fraction" (of the image side).
"""

from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass(frozen=True)
class SynthConfig:
    """Appearance, pose, occluder and degradation settings of the synthetic faces."""

    image_size: int = 256  # side of the square image
    mesh_columns: int = 96  # head grid resolution around the vertical axis
    mesh_rows: int = 72  # head grid resolution from the crown to under the chin
    profile_yaw: float = 45.0  # |yaw| above this: 39-point profile annotation instead of 68 points
    yaw_range: tuple[float, float] = (-90.0, 90.0)  # train split: uniform yaw
    pitch_range: tuple[float, float] = (-30.0, 30.0)
    roll_range: tuple[float, float] = (-30.0, 30.0)
    face_scale: tuple[float, float] = (0.28, 0.42)  # eye-to-chin distance as a fraction of the image side
    face_offset: float = 0.08  # max shift of the face centre from the image centre, fraction
    identity_std: float = 0.6  # identity modes ~ N(0, std), clipped to [-1, 1]
    expression_prob: float = 0.7  # chance of a non-neutral expression
    ambient: tuple[float, float] = (0.25, 0.55)
    diffuse: tuple[float, float] = (0.5, 0.9)
    light_elevation: tuple[float, float] = (-30.0, 60.0)  # light direction above the horizon
    light_azimuth: tuple[float, float] = (-80.0, 80.0)  # light direction around the vertical axis
    bald_prob: float = 0.1
    background_shapes: tuple[int, int] = (4, 16)
    occluder_prob: float = 0.3
    occluder_size: tuple[float, float] = (0.15, 0.45)  # occluder extent as a fraction of the face box side
    blur_prob: float = 0.3
    blur_sigma: tuple[float, float] = (0.5, 2.0)
    noise_prob: float = 0.5
    noise_sigma: tuple[float, float] = (2.0, 10.0)  # grey levels
    jpeg_quality: tuple[int, int] = (40, 95)
    box_scale: float = 1.1  # detector box = landmark box enlarged by this
    box_shift: float = 0.06  # max box centre jitter, fraction of the box side
    box_scale_jitter: float = 0.08  # box side multiplied by 1 +- this
    contour_candidates: int = 12  # K candidate points per jaw landmark (exported as contour3d)
    contour_refine: int = 4  # lm2d marching uses (K - 1) * refine + 1 points along each line
    visibility_tolerance: float = 0.03  # depth tolerance of the z-buffer test, fraction of the face size
    video_max_yaw: float = 70.0
    video_jump_prob: float = 0.5  # chance that a video contains an abrupt jump
    video_occlusion_prob: float = 0.6  # chance that a video contains an occlusion episode

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, list):
                object.__setattr__(self, f.name, tuple(value))
        if self.image_size < 32:
            raise ValueError(f"SynthConfig.image_size must be >= 32, got {self.image_size}")
        if self.contour_candidates < 3 or self.contour_refine < 1:
            raise ValueError("SynthConfig: contour_candidates >= 3 and contour_refine >= 1 are required")
        if not 0.0 <= self.profile_yaw <= 90.0:
            raise ValueError(f"SynthConfig.profile_yaw must be in [0, 90], got {self.profile_yaw}")
