"""``hwnas train --config FILE.yaml --out DIR [--nproc N]``: train the supernet of a train-once config, no search.

The checkpoint (``supernet.checkpoint``, default ``DIR/supernet.safetensors``) is continued if it exists
and reused by ``hwnas search --config FILE.yaml --out DIR``. ``--nproc N`` trains data-parallel on N
local processes (torch.distributed, gloo): every step's global batch of ``supernet.training.batch_size``
rows is split over the processes, which draw the same sub-networks. Under torchrun
(``torchrun --nproc-per-node N -m hwnas.cli train --config ...``) each process trains as its rank.
A checkpoint resumes at any number of processes.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train (or continue) the supernet of a train-once config, without searching",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", required=True, type=Path, help="YAML config file with a 'supernet:' section")
    p.add_argument("--out", type=Path, default=None,
                   help="output folder holding the checkpoint (default runs/<config stem>, as hwnas search)")
    p.add_argument("--nproc", type=int, default=1, help="local processes to train on (default 1)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from hwnas.app.api import default_out
    from hwnas.app.config import load_config
    from hwnas.app.train import run_train

    cfg = load_config(args.config)
    out = args.out if args.out is not None else default_out(args.config, cfg)
    res = run_train(cfg, out if out is not None else Path("runs") / args.config.stem, nproc=args.nproc,
                    quiet=args.quiet)
    if res.already_trained:
        print(f"supernet checkpoint {res.checkpoint}: already trained ({res.epochs} epochs); nothing to do")
    else:
        print(f"supernet checkpoint {res.checkpoint}: {res.epochs} epochs (trained on {res.world_size} process(es))")
    return 0
