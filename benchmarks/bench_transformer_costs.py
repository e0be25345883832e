"""Benchmark: the transformer spaces' costs are right (counting, extraction, ONNX, systolic-array GEMMs).

1. Counting: for ``--archs`` random sub-networks of ``vit`` and ``text_encoder`` (plus the largest and
   smallest), ``count``'s MACs against PyTorch's own ``torch.utils.flop_counter.FlopCounterMode``
   (FLOPs / 2) on the extracted module, and ``count``'s parameters against the module's parameter
   count (bar: MACs within 1 %, parameters exact).
2. Extraction and export: each sub-network extracted from a supernet with perturbed weights gives
   the supernet's outputs (bar: max abs difference <= 1e-5), and its ONNX export runs in ONNX
   Runtime within 1e-4 of PyTorch.
3. Attention on the accelerator: the largest sub-network of each space is written as a SCALE-Sim
   GEMM topology (Q/K/V projections, QK^T and attention x V one row per head, output projection,
   MLP, pooler and head; the ViT's patch embedding as its GEMM); SCALE-Sim v3 runs it in its own
   virtualenv (the route of ``bench_scalesim.py``), and its per-row "Total Cycles", summed per
   layer, are compared with the accelerator model's per-layer ``compute_cycles`` for two array
   sizes and the three dataflows (bar: within 5 %).

    python benchmarks/bench_transformer_costs.py
    python benchmarks/bench_transformer_costs.py --scalesim-python /path/to/venv/bin/python
    python benchmarks/bench_transformer_costs.py --no-scalesim     # parts 1-2 only

Prints the markdown tables recorded in BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from hwnas.costs.accelerator import AcceleratorConfig, AcceleratorModel
from hwnas.costs.count import count_layers
from hwnas.costs.topology import layers_to_gemm_rows, write_gemm_topology
from hwnas.export.onnx import example_input, export_onnx
from hwnas.spaces import get_space

SPACES = {"vit": {}, "text_encoder": {"vocab_size": 64, "input_shape": [32]}}


def perturbed_supernet(space, seed: int):
    torch.manual_seed(seed)
    net = space.build_supernet().eval()
    with torch.no_grad():
        for p in net.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    return net


def check_space(name: str, n_archs: int, seed: int) -> dict:
    space = get_space(name, **SPACES[name])
    net = perturbed_supernet(space, seed)
    rng = np.random.default_rng(seed)
    archs = [space.largest(), space.smallest()] + [space.canonical(space.sample(rng)) for _ in range(n_archs)]
    x = example_input(net.extract(space.largest()), (16, *space.input_shape), seed)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, arch in enumerate(archs):
            module = net.extract(arch)
            with FlopCounterMode(display=False) as fc, torch.no_grad():
                module(x[:1])
            counted = count_layers(space.layers(arch))
            torch_macs = fc.get_total_flops() / 2
            with torch.no_grad():
                ext = float((module(x) - net(x, arch)).abs().max())
            onnx = export_onnx(module, (1, *space.input_shape), Path(tmp) / f"{i}.onnx", tolerance=None).max_abs_diff
            rows.append({"macs": counted["macs"], "torch_macs": torch_macs,
                         "mac_err": abs(counted["macs"] - torch_macs) / torch_macs,
                         "params": counted["params"], "module_params": sum(p.numel() for p in module.parameters()),
                         "extract_diff": ext, "onnx_diff": onnx})
    return {"space": name, "rows": rows}


def scalesim_compare(py: Path, name: str, rows_cols: tuple[int, int], dataflow: str) -> dict:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_scalesim import run_scalesim

    space = get_space(name, **SPACES[name])
    layers = space.layers(space.largest())
    topo_rows, owners, _ = layers_to_gemm_rows(layers)
    rows, cols = rows_cols
    config = AcceleratorConfig(rows=rows, cols=cols, dataflow=dataflow, ifmap_sram_kb=64, filter_sram_kb=64,
                               ofmap_sram_kb=64, bandwidth=10)
    model = AcceleratorModel(config)
    with tempfile.TemporaryDirectory() as tmp:
        topo = write_gemm_topology(topo_rows, Path(tmp) / f"{name}_largest.csv")
        theirs_rows, ss_time = run_scalesim(py, topo, rows, cols, dataflow, gemm=True)
    if len(theirs_rows) != len(topo_rows):
        raise RuntimeError(f"{name}: SCALE-Sim reported {len(theirs_rows)} rows, expected {len(topo_rows)}")
    per_layer: dict[int, int] = {}
    for owner, cycles in zip(owners, theirs_rows):
        per_layer[owner] = per_layer.get(owner, 0) + cycles
    t0 = time.perf_counter()
    ours = {i: model.cost_layer(layers[i]).compute_cycles for i in per_layer}
    our_s = time.perf_counter() - t0
    errs = {i: abs(ours[i] - per_layer[i]) / per_layer[i] for i in per_layer}
    ops = {i: layers[i].op for i in per_layer}
    return {"space": name, "array": f"{rows}x{cols}", "dataflow": dataflow, "layers": len(per_layer),
            "topology_rows": len(topo_rows), "median_err": statistics.median(errs.values()),
            "worst_err": max(errs.values()),
            "worst_matmul_err": max((e for i, e in errs.items() if ops[i] == "matmul"), default=0.0),
            "total_ours": sum(ours.values()), "total_scalesim": sum(per_layer.values()),
            "scalesim_s": ss_time, "ours_s": our_s}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--archs", type=int, default=20, help="random sub-networks per space (plus largest, smallest)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--arrays", default="16x16,32x32")
    ap.add_argument("--dataflows", default="os,ws,is")
    ap.add_argument("--scalesim-python", default=None,
                    help="python of a virtualenv with scalesim (default: bench_scalesim.py's, created on first use)")
    ap.add_argument("--no-scalesim", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(1)

    print("| space | sub-networks | worst MAC error vs FlopCounterMode | params exact | worst extraction diff | "
          "worst ONNX diff |")
    print("|---|---|---|---|---|---|")
    ok = True
    for name in SPACES:
        res = check_space(name, args.archs, args.seed)
        r = res["rows"]
        mac = max(x["mac_err"] for x in r)
        exact = sum(x["params"] == x["module_params"] for x in r)
        ext = max(x["extract_diff"] for x in r)
        onnx = max(x["onnx_diff"] for x in r)
        ok &= mac <= 0.01 and exact == len(r) and ext <= 1e-5 and onnx <= 1e-4
        print(f"| {name} | {len(r)} | {mac:.3%} | {exact}/{len(r)} | {ext:.2e} | {onnx:.2e} |", flush=True)

    if not args.no_scalesim:
        if args.scalesim_python:
            py = Path(args.scalesim_python)
        else:
            sys.path.insert(0, str(Path(__file__).resolve().parent))
            from bench_scalesim import ensure_venv

            py = ensure_venv()
        print("\n| space (largest) | array | dataflow | GEMM layers (rows) | median err | worst err | "
              "worst QK^T / AV err | cycles ours | cycles SCALE-Sim |")
        print("|---|---|---|---|---|---|---|---|---|")
        worst = 0.0
        for name in SPACES:
            for a in args.arrays.split(","):
                for df in args.dataflows.split(","):
                    x = scalesim_compare(py, name, tuple(int(v) for v in a.split("x")), df)
                    worst = max(worst, x["worst_err"])
                    print(f"| {name} | {x['array']} | {df} | {x['layers']} ({x['topology_rows']}) | "
                          f"{x['median_err']:.3%} | {x['worst_err']:.3%} | {x['worst_matmul_err']:.3%} | "
                          f"{x['total_ours']} | {x['total_scalesim']} |", flush=True)
        ok &= worst <= 0.05
        print(f"\nworst per-layer error against SCALE-Sim v3: {worst:.3%} (bar <= 5 %)")
    print(f"bars: {'MET' if ok else 'NOT MET'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
