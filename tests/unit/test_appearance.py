"""Appearance jitter (train.augment.appearance): off changes nothing, on moves no label, ranges hold."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
import yaml

from cmhm.training.appearance import AppearanceConfig, jitter_appearance
from cmhm.training.augment import AugmentConfig, augment_batch

SCHEMA = yaml.safe_load(
    (Path(__file__).resolve().parents[2] / "rules/schemas/config.schema.yaml").read_text()
)
IDENTITY = AppearanceConfig(
    prob=1.0,
    gamma=(1.0, 1.0),
    gain=0.0,
    saturation=(1.0, 1.0),
    grey_prob=0.0,
    contrast=(1.0, 1.0),
    brightness=0.0,
)


def _images(n: int = 6, size: int = 16) -> np.ndarray:
    return np.random.default_rng(3).integers(0, 256, (n, size, size, 3), dtype=np.uint8)


def test_off_returns_the_images_and_draws_nothing() -> None:
    rng = np.random.default_rng(0)
    state = rng.bit_generator.state
    images = _images()
    assert jitter_appearance(images, AppearanceConfig(), rng) is images
    assert rng.bit_generator.state == state  # training without the jitter keeps its random stream


def test_identity_ranges_give_the_same_pixels() -> None:
    images = _images()
    assert np.array_equal(jitter_appearance(images, IDENTITY, np.random.default_rng(0)), images)


def test_grey_makes_the_channels_equal_and_keeps_luminance() -> None:
    images = _images()
    cfg = AppearanceConfig(**{**asdict(IDENTITY), "grey_prob": 1.0})
    out = jitter_appearance(images, cfg, np.random.default_rng(0)).astype(int)
    assert np.abs(out[..., 0] - out[..., 1]).max() <= 1 and np.abs(out[..., 1] - out[..., 2]).max() <= 1
    luma = images.astype(float) @ np.array([0.299, 0.587, 0.114])
    assert np.abs(out[..., 0] - luma).max() <= 1.0  # BT.601 luma, rounded once


def test_jittered_images_change_and_stay_in_range() -> None:
    images = _images(n=64)
    out = jitter_appearance(images, AppearanceConfig(prob=0.5), np.random.default_rng(1))
    changed = np.array([not np.array_equal(a, b) for a, b in zip(images, out, strict=True)])
    assert out.dtype == np.uint8 and out.shape == images.shape
    assert 16 <= changed.sum() <= 48  # about half of 64 (binomial, p = 0.5: outside this ~1e-5)


def test_labels_move_the_same_with_and_without_the_jitter() -> None:
    """The similarity is drawn first, so one seed gives the same geometry whatever the jitter."""
    images = _images(n=4, size=32)
    pts = np.random.default_rng(2).uniform(4, 28, (4, 5, 2))
    perms, side = {"p": np.arange(5)}, np.array(["front"] * 4, dtype=object)
    plain = augment_batch(images, {"p": pts}, perms, side, AugmentConfig(), np.random.default_rng(7))
    jittered = augment_batch(
        images, {"p": pts}, perms, side, AugmentConfig(appearance={"prob": 1.0}), np.random.default_rng(7)
    )
    assert np.array_equal(plain[1]["p"], jittered[1]["p"])
    assert not np.array_equal(plain[0], jittered[0])


def test_bad_ranges_are_named() -> None:
    with pytest.raises(ValueError, match="appearance.contrast"):
        AppearanceConfig(contrast=(1.4, 0.6))
    with pytest.raises(ValueError, match="appearance.gamma"):
        AppearanceConfig(gamma=(0.0, 1.0))
    with pytest.raises(ValueError, match="appearance.prob"):
        AppearanceConfig(prob=1.5)


def test_schema_defaults_are_the_code_defaults() -> None:
    props = SCHEMA["properties"]["train"]["properties"]["augment"]["properties"]["appearance"]["properties"]
    defaults = {
        k: tuple(v["default"]) if isinstance(v["default"], list) else v["default"] for k, v in props.items()
    }
    assert defaults == asdict(AppearanceConfig())
