"""Command line: ``python -m cmhm {inspect,version,synth-options,complexity,bench,check-config}``."""

from __future__ import annotations

import argparse
import dataclasses
import sys


def _inspect(args: argparse.Namespace) -> int:
    from cmhm.inspect import inspect_path

    print(inspect_path(args.path, args.png))
    return 0


def _version(args: argparse.Namespace) -> int:
    from cmhm.provenance import code_version

    print(code_version())
    return 0


def _synth_options(args: argparse.Namespace) -> int:
    from cmhm.synth import SynthConfig

    for f in dataclasses.fields(SynthConfig):
        print(f"{f.name} = {f.default!r}")
    return 0


def _complexity(argv: list[str]) -> int:
    from cmhm.complexity import main as complexity_main

    complexity_main(argv)
    return 0


def _bench(args: argparse.Namespace) -> int:
    from cmhm.bench import bench_training
    from cmhm.models import ModelConfig

    cfg = ModelConfig(in_size=args.size, n_stacks=2, depth=args.depth, width=args.width)
    table = bench_training(cfg, args.variants, steps=args.steps)
    print(f"device: {'cuda' if torch_cuda() else 'cpu'}; model {cfg}")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    return 0


def _check_config(args: argparse.Namespace) -> int:
    from cmhm.config_check import check_files
    from cmhm.data.registry import DATASETS

    files = ["config.yaml", *args.files] if args.base else args.files
    check_files(files, args.schema, {name: spec.split for name, spec in DATASETS.items()})
    print(f"config OK: {' + '.join(map(str, files))}")
    return 0


def torch_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


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
    sub.add_parser("version", help="print the code version recorded in artifacts").set_defaults(fn=_version)
    p = sub.add_parser("synth-options", help="list the synthetic renderer's options (config synth.render)")
    p.set_defaults(fn=_synth_options)
    sub.add_parser(
        "complexity", add_help=False, help="params and MACs of each variant (--help for its options)"
    )
    p = sub.add_parser("bench", help="loader, training and inference throughput on this machine")
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--width", type=int, default=64)
    p.add_argument("--depth", type=int, default=3)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--variants", nargs="+", default=["baseline", "inception", "multiview", "cmhm"])
    p.set_defaults(fn=_bench)
    p = sub.add_parser(
        "check-config", help="check config files as a run would (YAML line, schema, cross-key rules)"
    )
    p.add_argument("files", nargs="*", help="--configfile files, merged in order over config.yaml")
    p.add_argument("--no-base", dest="base", action="store_false", help="do not start from config.yaml")
    p.add_argument("--schema", default="rules/schemas/config.schema.yaml")
    p.set_defaults(fn=_check_config)
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["complexity"]:  # its own argument parser
        return _complexity(argv[1:])
    args = parser.parse_args(argv)
    try:
        return args.fn(args)
    except (FileNotFoundError, ValueError) as exc:
        print(f"cmhm {args.command}: {exc}", file=sys.stderr)
        return 2
