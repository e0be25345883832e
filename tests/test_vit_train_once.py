"""The vit space end to end: the train-once job on digits (accelerator and count targets included), and a
user's RGB image folder trained as a supernet, extracted and exported."""

from __future__ import annotations

import csv

import numpy as np
import torch
import yaml
from PIL import Image

import hwnas
from hwnas.data import get_dataset
from hwnas.export.onnx import export_onnx, onnx_accuracy
from hwnas.spaces import get_space
from hwnas.supernet.calibrate import accuracy
from hwnas.supernet.settings import TrainingConfig
from hwnas.supernet.train import SupernetTrainer

TINY_VIT = {
    "data": {"name": "digits"},
    "space": {"name": "vit", "options": {"widths": [8, 16], "depths": [1, 2], "heads": [1, 2], "mlp_sizes": [16, 32],
                                         "head_dim": 4}},
    "supernet": {"training": {"epochs": 2, "batch_size": 128, "lr": 0.005, "sandwich_random": 1}},
    "evaluator": {"name": "supernet", "options": {"calib_samples": 256}},
    "targets": [{"name": "count", "options": {"precisions": ["fp32"]}},
                {"name": "accelerator", "options": {"preset": "edge_npu"}, "prefix": "npu_"}],
    "objectives": ["accuracy:max", "macs:min"],
    "study": {"budget": 5},
    "strategy": {"name": "random"},
    "threads": 1,
}


def test_vit_train_once_job_on_digits(tmp_path):
    cfg = tmp_path / "vit.yaml"
    cfg.write_text(yaml.safe_dump(TINY_VIT))
    out = tmp_path / "out"
    hwnas.run(cfg, out)
    with open(out / "front.csv") as f:
        rows = list(csv.DictReader(f))
    assert rows
    x, y = get_dataset("digits").split("test")
    for r in rows:
        assert int(r["macs"]) > 0 and int(r["params"]) > 0
        assert abs(onnx_accuracy(out / r["model"], x, y) - float(r["accuracy"])) <= 0.5
    from hwnas.storage import SQLStorage

    storage = SQLStorage(out / "study.db")
    storage.load_study("supernet")
    assert all(t.metrics["npu_cycles"] > 0 for t in storage.trials("supernet"))


def test_vit_on_a_user_image_folder(tmp_path):
    rng = np.random.default_rng(0)
    root = tmp_path / "imgs"
    colours = {"red": (220, 20, 20), "green": (20, 220, 20), "blue": (20, 20, 220)}
    for cls, rgb in colours.items():
        (root / cls).mkdir(parents=True)
        for i in range(24):
            a = np.clip(np.array(rgb)[None, None] + rng.normal(0, 30, (12, 12, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(a, "RGB").save(root / cls / f"{i:02d}.png")
    data = get_dataset("folder", path=str(root))
    assert data.input_shape == (3, 12, 12)
    space = get_space("vit", input_shape=list(data.input_shape), num_classes=data.num_classes, patch=4,
                      widths=[8, 16], depths=[1, 2], heads=[1, 2], mlp_sizes=[16], head_dim=4)
    assert space.tokens == 10  # 3x3 patches + the class token
    torch.manual_seed(0)
    net = space.build_supernet()
    SupernetTrainer(net, data, TrainingConfig(epochs=15, batch_size=16, lr=0.01, sandwich_random=1)).train()
    x, y = data.split("test")
    assert accuracy(net, x, y, space.largest()) >= 80.0  # colours are easy: the network learned them
    module = net.extract(space.smallest())
    assert export_onnx(module, (1, *space.input_shape), tmp_path / "small.onnx").max_abs_diff <= 1e-4
