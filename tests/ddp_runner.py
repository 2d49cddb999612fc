"""Trains several configs one after the other in one process (``torchrun --nproc_per_node 2 ddp_runner.py
RUNS.json``: every method's DDP run shares one interpreter start). RUNS.json: a list of {"config",
"overrides", "data", "out", "stage", "steps"}. ``--zero-noise`` makes ``torch.randn`` / ``randn_like``
return zeros, so that the noise a method draws in its step is the same in every process layout."""

from __future__ import annotations

import json
import sys

import torch

from posevid.config import load_config
from posevid.train import train


def zero_noise() -> None:
    """Noise draws (``torch.randn``, ``torch.randn_like``) give zeros from now on."""
    torch.randn = lambda *size, **kw: torch.zeros(*size, **{k: v for k, v in kw.items() if k != "generator"})
    torch.randn_like = lambda t, **kw: torch.zeros_like(t, **kw)


def main(argv: list[str]) -> None:
    if "--zero-noise" in argv:
        zero_noise()
    runs = json.loads(open(argv[0]).read())
    for run in runs:
        cfg = load_config(run["config"], run["overrides"])
        train(cfg, run["data"], run["out"], show_progress=False, stage=run.get("stage"), steps=run["steps"])


if __name__ == "__main__":
    main(sys.argv[1:])
