"""Parameter and multiply-accumulate (MAC) counts of a model, measured with forward hooks.

MACs count Conv2d and Linear layers only (pooling, BN, activations and additions are free):
a convolution costs ``out_elements * (c_in / groups) * kh * kw``; a linear layer
``out_elements * in_features``.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass, replace

import pandas as pd
import torch
from torch import nn

from cmhm.landmarks.markups import get_markup
from cmhm.models.cascade import stage_plans
from cmhm.models.hourglass import ModelConfig, build_hourglass
from cmhm.pipeline.variants import VARIANTS


@dataclass(frozen=True)
class Complexity:
    params: int
    macs: int


def _layer_macs(module: nn.Module, output: torch.Tensor) -> int:
    if isinstance(module, nn.Conv2d):
        kh, kw = module.kernel_size
        return output.numel() * (module.in_channels // module.groups) * kh * kw
    return output.numel() * module.in_features


@torch.no_grad()
def count_complexity(model: nn.Module, in_size: int, batch: int = 1) -> Complexity:
    """Params and per-image MACs of ``model`` on a [batch, 3, in_size, in_size] input.

    A model built on the 'meta' device (``with torch.device("meta"): ...``) is counted without
    any arithmetic."""
    total = [0]

    def hook(module: nn.Module, _inputs: tuple, output: torch.Tensor) -> None:
        total[0] += _layer_macs(module, output)

    handles = [
        m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))
    ]
    was_training = model.training
    try:
        model.eval()
        device = next(model.parameters()).device  # 'meta' counts without computing
        model(torch.zeros(batch, 3, in_size, in_size, device=device))
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    params = sum(p.numel() for p in model.parameters())
    return Complexity(params=params, macs=total[0] // batch)


def _forms(variant: str) -> tuple[str, ...]:
    """Inception width rules worth listing for ``variant`` (both forms where the block is inception)."""
    return ("paper", "matched") if VARIANTS[variant].block == "inception_resnet" else ("-",)


def complexity_table(
    base_configs: dict[str, ModelConfig], variants: Sequence[str], markup3d: str
) -> pd.DataFrame:
    """One row per (config name, variant, inception width rule, stage): params and GMACs of that stage's
    network; ``MACs_vs_baseline``: the variant's MACs over all stages / the baseline's at that config."""
    rows = []
    for cfg_name, base in base_configs.items():
        for variant in variants:
            for form in _forms(variant):
                cfg = replace(base, inception_width="paper" if form == "-" else form)
                for stage, plan in enumerate(stage_plans(variant, cfg, get_markup(markup3d))):
                    with torch.device("meta"):
                        c = count_complexity(build_hourglass(plan.model), plan.model.in_size)
                    rows.append(
                        {
                            "config": cfg_name,
                            "variant": variant,
                            "inception_width": form,
                            "stage": stage,
                            "in_size": base.in_size,
                            "width": base.width,
                            "depth": base.depth,
                            "block": plan.model.block,
                            "stacks": plan.model.n_stacks,
                            "params_M": c.params / 1e6,
                            "GMACs": c.macs / 1e9,
                        }
                    )
    table = pd.DataFrame(rows)
    totals = table.groupby(["config", "variant", "inception_width"])["GMACs"].transform("sum")
    base_total = table[table["variant"] == "baseline"].groupby("config")["GMACs"].sum()
    table["MACs_vs_baseline"] = totals / table["config"].map(base_total)
    return table


def main(argv: Sequence[str] | None = None) -> pd.DataFrame:
    """Print the complexity table for ``--size/--width/--depth`` (repeatable) and the chosen variants."""
    ap = argparse.ArgumentParser(prog="cmhm complexity", description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, action="append", help="input side (repeat for several configs)")
    ap.add_argument("--width", type=int, action="append")
    ap.add_argument("--depth", type=int, action="append")
    ap.add_argument("--variants", nargs="+", default=sorted(VARIANTS))
    ap.add_argument("--markup3d", default="menpo84")
    ap.add_argument("--csv", help="also write the table here")
    args = ap.parse_args(argv)
    sizes, widths, depths = args.size or [256], args.width or [256], args.depth or [4]
    if not (len(sizes) == len(widths) == len(depths)):
        raise SystemExit("--size, --width and --depth must be given the same number of times")
    configs = {
        f"{s}px_w{w}_d{d}": ModelConfig(in_size=s, width=w, depth=d) for s, w, d in zip(sizes, widths, depths)
    }
    table = complexity_table(configs, args.variants, args.markup3d)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    if args.csv:
        table.to_csv(args.csv, index=False)
    return table


if __name__ == "__main__":
    main()
