"""The malloc setting inference makes (cmhm.inference.allocator): made on glibc, left to the user's
environment when it names one, and made by every FaceAligner."""

from __future__ import annotations

import pytest

from cmhm.bench.inference import random_cascade
from cmhm.inference import api
from cmhm.inference.allocator import ENV_KEYS, glibc, keep_freed_memory
from cmhm.models.hourglass import ModelConfig

from .model_files import bare_model_file

SMALL = ModelConfig(in_size=32, width=16, depth=2)


@pytest.mark.skipif(not glibc(), reason="the thresholds are glibc's; this C library has none to set")
def test_set_on_glibc(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ENV_KEYS:
        monkeypatch.delenv(key, raising=False)
    assert keep_freed_memory() == "set"
    assert keep_freed_memory() == "set"  # idempotent: a second aligner sets the same values


@pytest.mark.parametrize("key", ENV_KEYS)
def test_the_users_environment_wins(monkeypatch: pytest.MonkeyPatch, key: str) -> None:
    monkeypatch.setenv(key, "131072")
    assert keep_freed_memory() == "environment"


def test_every_aligner_makes_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    monkeypatch.setattr(api, "keep_freed_memory", lambda: calls.append(1) or "set")
    api.FaceAligner(bare_model_file(random_cascade("cmhm", SMALL), SMALL.in_size), device="cpu")
    assert calls == [1]
