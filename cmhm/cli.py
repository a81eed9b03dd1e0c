"""Command line: ``python -m cmhm {inspect,version,synth-options}``."""

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cmhm", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("inspect", help="explain an intermediate artifact: what it is, its provenance, a summary")
    p.add_argument("path")
    p.add_argument("--png", help="also write a contact sheet / figure of the artifact to this PNG")
    p.set_defaults(fn=_inspect)
    sub.add_parser("version", help="print the code version recorded in artifacts").set_defaults(fn=_version)
    p = sub.add_parser("synth-options", help="list the synthetic renderer's options (config synth.render)")
    p.set_defaults(fn=_synth_options)
    args = parser.parse_args(argv)
    try:
        return args.fn(args)
    except (FileNotFoundError, ValueError) as exc:
        print(f"cmhm {args.command}: {exc}", file=sys.stderr)
        return 2
