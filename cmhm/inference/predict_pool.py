"""``cmhm predict --workers N``: many images on every core, one model per worker process (issue 27).

One process cannot keep two cores busy on a photo: MTCNN's image pyramid and candidate handling are many
small calls and Python between them, and a small cascade's convolutions are too short to split across
threads. N worker processes, each with its own model and ``cores / N`` threads, take the images one at a
time; the parent gathers each image's faces, JSON lines and failure in input order, so the output files
equal a one-process run's. Workers are started with ``spawn`` (never ``fork``: a forked copy of a process
that has used PyTorch's or OpenMP's thread pools can hang), so each imports torch and loads the model
once: a few seconds, which a folder of a few dozen photos or more repays (README, Performance).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import tempfile
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

_ALIGNER = None  # the worker's FaceAligner (set once per worker process by _start)


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def auto_workers(n_images: int, device: str, cores: int | None = None, min_per_worker: int = 16) -> int:
    """Workers for ``--workers 0``: one per core on the CPU when each gets ``min_per_worker`` images or
    more (fewer do not repay a worker's start-up: ~2 s each, break-even at 15-28 photos for two workers
    in ``make bench``); one (this process) otherwise and on CUDA."""
    cores = usable_cores() if cores is None else cores
    if device.startswith("cuda") or (device == "auto" and _cuda()):
        return 1
    return max(1, min(cores, n_images // min_per_worker))


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def _start(model: str, load_kwargs: dict, threads: int) -> None:
    import cv2
    import torch

    from cmhm.inference.api import load

    torch.set_num_threads(threads)
    cv2.setNumThreads(threads)
    global _ALIGNER
    _ALIGNER = load(model, threads=threads, **load_kwargs)


def _align(task: tuple) -> tuple[int | None, str, str | None]:
    from cmhm.inference.predict_files import align_image

    return align_image(_ALIGNER, *task)


def _check_model(model: str) -> None:
    """Raise the error loading ``model`` would raise (ModelFileError or ValueError naming the file)."""
    from cmhm.inference.model_file import read_cascade
    from cmhm.inference.onnx_backend import OnnxCascade, is_onnx

    if is_onnx(model):
        OnnxCascade(model, 1).record(model)
    else:
        read_cascade(model)


class PredictPool:
    """``workers`` processes, each running ``load(model, **load_kwargs)`` with ``threads`` threads.

    A ``cascade.pt`` on the onnx back end is exported once, here, to a temporary ``.onnx`` the workers
    load (an in-memory export in each worker would cost each of them the export's 10-20 s)."""

    def __init__(self, model: str | os.PathLike, workers: int, threads: int = 1, **load_kwargs) -> None:
        from cmhm.inference.onnx_backend import is_onnx

        self._tmp = None
        model = str(model)
        if load_kwargs.get("backend") == "onnx" and not is_onnx(model):
            from cmhm.inference.export import export_onnx

            self._tmp = tempfile.TemporaryDirectory(prefix="cmhm_predict_")
            model = str(export_onnx(model, Path(self._tmp.name) / "cascade.onnx"))
            load_kwargs = {**load_kwargs, "backend": "auto"}
        _check_model(model)  # a bad model file is named here, not as a worker that died starting
        self._pool = ProcessPoolExecutor(
            workers,
            mp_context=mp.get_context("spawn"),
            initializer=_start,
            initargs=(model, load_kwargs, threads),
        )

    def map(self, tasks: Iterable[tuple]) -> Iterator[tuple[int | None, str, str | None]]:
        """:func:`cmhm.inference.predict_files.align_image` of each task (path, out, boxes, overlay), in the tasks' order."""
        return self._pool.map(_align, tasks)

    def close(self) -> None:
        self._pool.shutdown()
        if self._tmp is not None:
            self._tmp.cleanup()

    def __enter__(self) -> PredictPool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
