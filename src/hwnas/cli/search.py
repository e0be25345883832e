"""``hwnas search --config FILE.yaml [--out DIR]``: a persisted, resumable study from a config.

Run the same command again after an interruption (Ctrl-C, kill -9, a crash)
and the study resumes from its storage: nothing evaluated is lost or counted
twice. A config with a ``supernet:`` section runs the train-once job (train the
supernet, search it, export the front); otherwise the table search job runs.
The config schema is :mod:`hwnas.app.schema`; the same runs from Python with
:func:`hwnas.run`.

Paths in the config (data, storage, checkpoint, table and target files) are relative to the
config file; ``--out`` is relative to the working directory.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("search", help="run (or resume) a search from a YAML config",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", required=True, type=Path, help="YAML config file")
    p.add_argument("--out", type=Path, default=None,
                   help="folder for front.csv, trials.csv (and models, plots), relative to the working directory; "
                        "train-once default runs/<config stem>")
    p.add_argument("--budget", type=int, default=None, help="override study.budget (total distinct evaluations)")
    p.add_argument("--study", default=None, metavar="NAME",
                   help="override study.name; a train-once study of another name searches the trained supernet "
                        "in OUT again without training and writes its front into OUT/NAME")
    p.add_argument("--quiet", action="store_true", help="no progress bars (supernet training, search); results are still printed")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from hwnas.app.api import default_out, run_config
    from hwnas.app.config import load_config

    cfg = load_config(args.config)
    out = args.out if args.out is not None else default_out(args.config, cfg)
    run_config(cfg, out, budget=args.budget, quiet=args.quiet, study=args.study)
    return 0
