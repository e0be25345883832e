"""Data-parallel supernet training (torch.distributed, gloo on CPU) on 2 spawned processes: the same weights
as one process training on the same global batches; a 2-rank checkpoint resumed on 1 rank; `hwnas train`."""

from __future__ import annotations

import dataclasses
import uuid

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from safetensors.torch import load_file, save_file

from hwnas.data import get_dataset
from hwnas.spaces.mobilenet import MobileNetSpace
from hwnas.supernet.distributed import Ranks, init_group
from hwnas.supernet.settings import TrainingConfig
from hwnas.supernet.train import SupernetTrainer

pytestmark = pytest.mark.distributed

# 150 training rows in global batches of 47: shards of 24 + 23 rows (unequal, so the loss weighting
# matters), depth choices that skip blocks (find_unused_parameters), batch norm synchronised over ranks.
# In float64: Adam turns a gradient element near zero into a step of about lr whatever its sign, so in
# float32 summation-order noise of 1e-8 on such elements moves weights by lr; in float64 it does not.
CFG = TrainingConfig(epochs=2, batch_size=47, lr=5e-3, sandwich_random=2, seed=4)


def _space():
    return MobileNetSpace(stem=4, stages=((4, 2, 2), (6, 1, 2)), head=8, widths=(0.5, 1.0))


def _data():
    d = get_dataset("digits")
    return dataclasses.replace(d, x_train=d.x_train[:150].double(), y_train=d.y_train[:150])


def _net():
    with torch.random.fork_rng():
        torch.manual_seed(1)
        return _space().build_supernet().double()


class Interrupt(Exception):
    pass


def _rank_main(rank: int, world: int, rendezvous: str, folder: str, stop_at_step: int) -> None:
    torch.set_num_threads(1)
    ranks = Ranks(rank, world)
    init_group(ranks, f"file://{rendezvous}", timeout_s=60)
    try:
        net = _net()
        trainer = SupernetTrainer(net, _data(), CFG, f"{folder}/ckpt_rank{rank}.safetensors", ranks=ranks)

        def stop(step, total, info):
            if step == stop_at_step:
                raise Interrupt

        try:
            trainer.train(stop)
        except Interrupt:
            return
        save_file({k: v.contiguous() for k, v in net.state_dict().items()}, f"{folder}/weights_rank{rank}.safetensors")
    finally:
        dist.destroy_process_group()


def _spawn(tmp_path, stop_at_step: int = -1) -> None:
    rendezvous = tmp_path / f"pg-{uuid.uuid4().hex}"
    mp.spawn(_rank_main, args=(2, str(rendezvous), str(tmp_path), stop_at_step), nprocs=2, join=True)


def _single(checkpoint=None) -> dict:
    torch.set_num_threads(1)
    net = _net()
    SupernetTrainer(net, _data(), CFG, checkpoint).train()
    return net.state_dict()


def _assert_same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    worst = max(float((a[k].double() - b[k].double()).abs().max()) for k in a if a[k].is_floating_point())
    assert worst < 1e-9, f"largest weight difference {worst}"


def test_two_ranks_train_the_weights_one_process_trains(tmp_path):
    _spawn(tmp_path)
    rank0 = load_file(str(tmp_path / "weights_rank0.safetensors"))
    rank1 = load_file(str(tmp_path / "weights_rank1.safetensors"))
    single = _single()
    _assert_same(rank0, rank1)
    _assert_same(rank0, single)
    start = _net().state_dict()  # and training moved them: the comparison is not of untouched weights
    assert max(float((single[k] - start[k]).abs().max()) for k in single if single[k].is_floating_point()) > 1e-2
    # only rank 0 writes its checkpoint
    assert (tmp_path / "ckpt_rank0.safetensors").exists() and not (tmp_path / "ckpt_rank1.safetensors").exists()


def test_two_rank_checkpoint_resumes_on_one_rank(tmp_path):
    steps_per_epoch = 4  # ceil(150 / 47)
    _spawn(tmp_path, stop_at_step=steps_per_epoch + 1)  # killed in epoch 2, after epoch 1's checkpoint
    ckpt = tmp_path / "ckpt_rank0.safetensors"
    from hwnas.supernet.checkpoint import read_metadata

    assert read_metadata(ckpt)["meta"]["epoch"] == 1
    torch.set_num_threads(1)
    net = _net()
    trainer = SupernetTrainer(net, _data(), CFG, ckpt)
    result = trainer.train()
    assert result.resumed_from == 1
    _assert_same(net.state_dict(), _single())


def test_ranks_shard_covers_the_batch_once_and_weights_average_to_the_global_mean():
    v = torch.arange(64, dtype=torch.float64) ** 1.5
    for n in (3, 7, 47, 64):
        for world in (1, 2, 3):
            parts = [Ranks(r, world).shard(n) for r in range(world)]
            assert [i for s, _ in parts for i in range(n)[s]] == list(range(n))
            # what DDP computes: the average over ranks of each rank's weighted mean loss
            ddp = sum(w * float(v[:n][s].mean()) for s, w in parts) / world
            assert ddp == pytest.approx(float(v[:n].mean()), rel=1e-12)


TINY_TRAIN = {
    "data": {"name": "digits"},
    "space": {"name": "mobilenet",
              "options": {"stem": 4, "stages": [[4, 2, 2], [6, 1, 2]], "head": 8, "widths": [0.5, 1.0]}},
    "supernet": {"training": {"epochs": 1, "batch_size": 128, "lr": 0.01, "sandwich_random": 1}},
    "evaluator": {"name": "supernet", "options": {"calib_samples": 128}},
    "targets": [{"name": "count", "options": {"precisions": ["fp32"]}}],
    "objectives": ["accuracy:max", "macs:min"], "study": {"budget": 3}, "strategy": {"name": "random"},
    "export": {"onnx": False, "plot": False}, "threads": 1,
}


def _tiny_config(tmp_path):
    import yaml

    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(TINY_TRAIN))
    return path


def test_hwnas_train_on_two_processes_then_search_reuses_the_checkpoint(tmp_path, capsys):
    import hwnas
    from hwnas.cli.main import main
    from hwnas.supernet.checkpoint import read_metadata

    path = _tiny_config(tmp_path)
    out = tmp_path / "out"
    assert main(["train", "--config", str(path), "--out", str(out), "--nproc", "2", "--quiet"]) == 0
    assert "supernet.safetensors: 1 epochs (trained on 2 process(es))" in capsys.readouterr().out
    assert read_metadata(out / "supernet.safetensors")["meta"]["epoch"] == 1
    assert not list(out.glob(".hwnas-train-*"))  # the rendezvous file is removed
    hwnas.run(path, out, verbose=True)
    assert "supernet: reusing trained checkpoint" in capsys.readouterr().out
    again = hwnas.train(path, out, nproc=2)  # already trained: nothing spawned, the checkpoint reported
    assert (again.epochs, again.world_size, again.already_trained) == (1, 0, True)


def test_hwnas_train_under_torchrun(tmp_path):
    """torchrun starts the processes and sets RANK / WORLD_SIZE; each trains as its rank; rank 0 writes."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from hwnas.supernet.checkpoint import read_metadata

    torchrun = Path(sys.executable).with_name("torchrun")
    if not torchrun.exists():
        pytest.skip(f"torchrun not found beside {sys.executable}")
    path, out = _tiny_config(tmp_path), tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.run([str(torchrun), "--standalone", "--nproc-per-node", "2", "-m", "hwnas.cli", "train",
                           "--config", str(path), "--out", str(out), "--quiet"],
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[:3000] + proc.stdout[-2000:]
    assert proc.stdout.count("1 epochs (trained on 2 process(es))") == 2  # both ranks report
    assert "supernet: trained 1 epochs on 2 processes" in proc.stdout  # rank 0's console
    assert read_metadata(out / "supernet.safetensors")["meta"]["epoch"] == 1


def test_hwnas_train_refuses_a_table_config_and_bad_nproc(tmp_path, synthetic_nb201_table):
    import hwnas
    from hwnas.core.errors import ConfigError

    table = tmp_path / "t.csv"
    synthetic_nb201_table.to_csv(table, index=False)
    cfg = {"space": "nb201", "evaluator": {"name": "table", "options": {"path": str(table)}},
           "objectives": ["acc:max", "lat_ms:min"], "study": {"storage": None, "budget": 5}}
    with pytest.raises(ConfigError, match="train-once config"):
        hwnas.train(cfg, tmp_path / "o")
    with pytest.raises(ConfigError, match="nproc must be an integer >= 1"):
        from hwnas.app.config import load_config
        from hwnas.app.train import run_train

        run_train(load_config({**cfg, "supernet": {"training": {"epochs": 1}}}), tmp_path / "o", nproc=0)
