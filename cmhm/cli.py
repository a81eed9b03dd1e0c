"""Command line: ``python -m cmhm {inspect,predict,export,version,synth-options,complexity,bench,gpu-check,
check-config,data-dir,error-terms}``."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from contextlib import nullcontext


def _inspect(args: argparse.Namespace) -> int:
    from cmhm.inspect.explain import inspect_path

    print(inspect_path(args.path, args.png))
    return 0


def _predict(args: argparse.Namespace) -> int:
    from cmhm.inference.api import load
    from cmhm.inference.predict_files import VIDEO_SUFFIXES, expand_inputs, run_predict
    from cmhm.inference.predict_pool import PredictPool, auto_workers, usable_cores

    if args.workers < 0:
        raise ValueError(f"--workers {args.workers}: give a number of processes, or 0 to choose")
    paths = expand_inputs(args.inputs)
    videos = sum(p.suffix.lower() in VIDEO_SUFFIXES for p in paths)
    workers = args.workers or auto_workers(len(paths) - videos, args.device)
    kwargs = {
        "device": args.device,
        "batch_size": args.batch,
        "backend": args.backend,
        "cuda_graph": args.cuda_graph,
        "compiled": args.compile,
        "precision": args.precision,
    }
    # with workers, the images go to them and a video is tracked here, frame after frame
    aligner = load(args.model, threads=args.threads, **kwargs) if workers == 1 or videos else None
    threads = args.threads or max(1, usable_cores() // workers)
    with PredictPool(args.model, workers, threads, **kwargs) if workers > 1 else nullcontext() as pool:
        inputs = [str(p) for p in paths]  # the folders listed once
        report = run_predict(aligner, inputs, args.out, args.boxes, args.overlay, True, pool)
    n_faces = sum(report.faces.values())
    print(
        f"cmhm predict: {n_faces} faces in {len(report.faces)} inputs written to {args.out}; "
        f"{len(report.failures)} failed"
        + (f" (listed in {args.out}/failures.csv)" if report.failures else "")
        + f"; {report.seconds:.1f} s, {report.rate()}, {workers} worker process{'es' * (workers > 1)}"
    )
    return 1 if report.failures else 0


def _export(args: argparse.Namespace) -> int:
    from cmhm.inference.export import export_onnx, export_torchscript

    if not (args.onnx or args.torchscript):
        raise ValueError("name an output: --onnx FILE and/or --torchscript FILE")
    for path, fn in ((args.onnx, export_onnx), (args.torchscript, export_torchscript)):
        if path:
            print(f"wrote {fn(args.model, path)}")
    return 0


def _version(args: argparse.Namespace) -> int:
    from cmhm.pipeline.provenance import code_version

    print(code_version())
    return 0


def _synth_options(args: argparse.Namespace) -> int:
    from cmhm.synth import SynthConfig

    for f in dataclasses.fields(SynthConfig):
        print(f"{f.name} = {f.default!r}")
    return 0


def _complexity(argv: list[str]) -> int:
    from cmhm.models.complexity import main as complexity_main

    complexity_main(argv)
    return 0


def _check_config(args: argparse.Namespace) -> int:
    from cmhm.pipeline.config_check import check_files

    files = ["config.yaml", *args.files] if args.base else args.files
    check_files(files, args.schema)
    print(f"config OK: {' + '.join(map(str, files))}")
    return 0


def _data_dir(args: argparse.Namespace) -> int:
    import yaml

    from cmhm.pipeline.config_check import check_config, load_yaml, merge
    from cmhm.pipeline.data_keys import data_dirs

    config: dict = {}
    for path in ["config.yaml", *args.files] if args.base else args.files:
        config = merge(config, load_yaml(path))
    for item in args.config:  # as Snakemake's --config KEY=VALUE: the value is YAML
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--config {item!r}: expected KEY=VALUE")
        config = merge(config, {key: yaml.safe_load(value)})
    pairs = [tuple(p.split(":", 1)) for p in args.split] or None
    if pairs and any(len(p) != 2 for p in pairs):
        raise SystemExit(f"--split: expected DATASET:SPLIT, got {args.split}")
    for folder, (what, _) in data_dirs(check_config(config, args.schema), pairs).items():
        print(f"{what}\t{folder}")
    return 0


def _error_terms(args: argparse.Namespace) -> int:
    import numpy as np

    from cmhm.evaluation.error_terms import error_terms, format_terms
    from cmhm.landmarks.markups import get_markup

    for item in args.predictions:
        label, sep, path = item.rpartition("=")
        with np.load(path if sep else item) as d:
            missing = {"points", "gt", "yaw"} - set(d.files)
            if missing:
                raise SystemExit(
                    f"{path}: no {sorted(missing)}: not a predictions.npz of rule predict_images"
                )
            terms = error_terms(d["points"], d["gt"][..., :2], d["yaw"], get_markup(args.markup))
        print("\n".join(format_terms(label or item, terms)))
    return 0


def _two_fold(args: argparse.Namespace) -> int:
    from cmhm.report.two_fold import (
        CAPTION,
        CAPTION_ONE,
        join_folds,
        per_image_files,
        restrict,
        two_fold_table,
        with_others,
    )

    if len(args.runs) > 2:
        raise SystemExit(f"two-fold: one run tested on the whole set, or two fold runs; got {len(args.runs)}")
    caption = CAPTION if len(args.runs) == 2 else CAPTION_ONE

    read: list[str] = []  # which seeds of which run each row averages: whatever per_image.csv the runs hold

    keep = None
    if args.within:
        from cmhm.data.folds import fold_ids

        keep = fold_ids(args.within[0], args.within[1])
        caption += f"; only the {len(keep)} images of {args.within[1]} in {args.within[0]}"

    def joined(names: list[str]) -> dict:
        files = [per_image_files(r, args.dataset) for r in names]
        if keep is not None:
            files = [restrict(f, keep) for f in files]
        for r, f in zip(names, files):
            read.append(f"{r}: " + ", ".join(f"{v} seeds {' '.join(map(str, s))}" for v, s in f.items()))
        return join_folds(files, names)

    others = {label: joined(names) for label, *names in args.also or []}
    table = two_fold_table(with_others(joined(args.runs), others), by_variant=args.by_variant)
    if args.out:
        from cmhm.atomic import write_text_atomic

        runs = " ".join(args.runs) + "".join(f"; {' '.join(a)}" for a in args.also or [])
        seeds = "; ".join(read)
        write_text_atomic(args.out, f"# {caption}; runs: {runs}; read: {seeds}\n" + table.to_csv(index=False))
    print(f"{caption}\n{table.to_string(index=False, float_format=lambda x: f'{x:.2f}')}")
    print("\n".join(f"read {line}" for line in read))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cmhm", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser(
        "inspect", help="explain an intermediate artifact: what it is, its provenance, a summary"
    )
    p.add_argument("path")
    p.add_argument(
        "--png",
        help="also write a picture of the artifact to this PNG (crop shard: contact sheet; mapping: Fig. 3)",
    )
    p.set_defaults(fn=_inspect)
    p = sub.add_parser("predict", help="align the faces in images, folders and videos with a model file")
    p.add_argument(
        "model", help="a model file (results/<run>/models/<variant>/cascade.pt) or its ONNX export (.onnx)"
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files, folders or video files")
    p.add_argument("--out", default="predictions", help="output folder (default: predictions)")
    p.add_argument("--boxes", help="face boxes (CSV image,x0,y0,x1,y1 or JSON) instead of the detector")
    p.add_argument("--device", default="auto", help="auto (CUDA when available), cpu or cuda")
    p.add_argument("--batch", type=int, default=16, help="faces per forward pass")
    p.add_argument(
        "--backend",
        default="auto",
        choices=["auto", "torch", "onnx"],
        help="auto: ONNX Runtime for a .onnx model, PyTorch otherwise; onnx on a cascade.pt exports it first",
    )
    p.add_argument(
        "--threads",
        type=int,
        default=0,
        help="threads per process (0: ONNX Runtime's default; with workers, the cores shared among them)",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=0,
        help="processes aligning images side by side, each with its own model (0: one per core on the CPU "
        "when each gets 16 images or more, else 1)",
    )
    p.add_argument(
        "--cuda-graph",
        action="store_true",
        help="on CUDA, replay the network from CUDA graphs (one per batch size up to --batch; "
        "faster at small batches, captured on first use)",
    )
    p.add_argument(
        "--compile",
        action="store_true",
        help="PyTorch back end: run the network compiled by torch.compile (one graph per batch size up to "
        "--batch; each compiled on first use, tens of seconds; pays for many faces)",
    )
    p.add_argument(
        "--precision",
        choices=("float32", "bf16"),
        default="float32",
        help="PyTorch back end: bf16 runs the networks under bfloat16 autocast (decoding and warps stay "
        "float32); fast on CPUs with AMX or AVX512-BF16 and recent GPUs, emulated (slower) elsewhere",
    )
    p.add_argument("--overlay", action="store_true", help="also write PNG (image) / MP4 (video) overlays")
    p.set_defaults(fn=_predict)
    p = sub.add_parser("export", help="export a model file's whole cascade as ONNX and/or TorchScript")
    p.add_argument("model", help="a model file (cascade.pt)")
    p.add_argument("--onnx", help="write an ONNX graph (dynamic batch) here")
    p.add_argument("--torchscript", help="write a traced TorchScript module here")
    p.set_defaults(fn=_export)
    sub.add_parser("version", help="print the code version recorded in artifacts").set_defaults(fn=_version)
    p = sub.add_parser("synth-options", help="list the synthetic renderer's options (config synth.render)")
    p.set_defaults(fn=_synth_options)
    sub.add_parser(
        "complexity", add_help=False, help="params and MACs of each variant (--help for its options)"
    )
    sub.add_parser(
        "bench", add_help=False, help="inference, training and loader throughput, ratios (--help for options)"
    )
    sub.add_parser(
        "gpu-check",
        add_help=False,
        help="exercise the CUDA path and measure it (CPU-side checks without CUDA)",
    )
    p = sub.add_parser("two-fold", help="Table I of two runs whose test folds partition one set")
    p.add_argument(
        "runs",
        nargs="+",
        help="the two fold runs' folders (results/real_faces_a results/real_faces_b), or one run tested on "
        "the whole set (results/real_faces_sim)",
    )
    p.add_argument("--dataset", default="aflw2000_3d", help="the test set under each run's eval/")
    p.add_argument("--out", help="write the table here (CSV, the caption as a # comment line first)")
    p.add_argument(
        "--also",
        nargs="+",
        action="append",
        metavar="LABEL RUN",
        help="rows of another check on the same images, named 'variant (LABEL)': its two fold runs, or one "
        "run tested on the whole set (e.g. --also sim results/real_faces_sim); repeatable",
    )
    p.add_argument(
        "--within",
        nargs=2,
        metavar=("FOLDS_CSV", "SPLIT"),
        help="score only the images of one fold (e.g. configs/real_faces/folds.csv fold0): choose between "
        "rows on one fold, report the choice on the other",
    )
    p.add_argument(
        "--by-variant",
        action="store_true",
        help="take each 'variant (LABEL)' row's difference to the plain 'variant' row, not to the first row",
    )
    p.set_defaults(fn=_two_fold)
    p = sub.add_parser(
        "error-terms", help="split a model's NME into the placement of the shape and the shape (and by group)"
    )
    p.add_argument(
        "predictions", nargs="+", metavar="[LABEL=]PREDICTIONS", help="predictions.npz of rule predict_images"
    )
    p.add_argument("--markup", default="ibug68", help="the points' markup (its groups)")
    p.set_defaults(fn=_error_terms)
    p = sub.add_parser(
        "check-config", help="check config files as a run would (YAML line, schema, cross-key rules)"
    )
    p.add_argument("files", nargs="*", help="--configfile files, merged in order over config.yaml")
    p.add_argument("--no-base", dest="base", action="store_false", help="do not start from config.yaml")
    p.add_argument("--schema", default="rules/schemas/config.schema.yaml")
    p.set_defaults(fn=_check_config)
    p = sub.add_parser(
        "data-dir",
        help="the folders of the samples, crops and 3D labels a run reads under these config files",
    )
    p.add_argument("files", nargs="*", help="--configfile files, merged in order over config.yaml")
    p.add_argument("--config", nargs="*", default=[], metavar="KEY=VALUE", help="as snakemake's --config")
    p.add_argument(
        "--split", nargs="*", default=[], metavar="DATASET:SPLIT", help="these splits (default: the run's)"
    )
    p.add_argument("--no-base", dest="base", action="store_false", help="do not start from config.yaml")
    p.add_argument("--schema", default="rules/schemas/config.schema.yaml")
    p.set_defaults(fn=_data_dir)
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["complexity"]:  # its own argument parser
        return _complexity(argv[1:])
    if argv[:1] == ["bench"]:
        from cmhm.bench.report import main as bench_main

        return bench_main(argv[1:])
    if argv[:1] == ["gpu-check"]:
        from cmhm.bench.gpu_check import main as gpu_check_main

        return gpu_check_main(argv[1:])
    args = parser.parse_args(argv)
    try:
        return args.fn(args)
    except (OSError, ValueError) as exc:  # a missing or unwritable file (a full disk), a bad input: named
        print(f"cmhm {args.command}: {exc}", file=sys.stderr)
        return 2
