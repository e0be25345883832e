"""hwnas.costs.synthetic: synthetic cost columns built from the executed operations."""

from __future__ import annotations

import numpy as np

from hwnas.costs import synthetic
from hwnas.spaces.nb201 import NB201Space
from hwnas.spaces.nb201_views import nb201_measure_keys


def test_costs_are_deterministic_one_value_per_measurement_class(synthetic_nb201_table):
    a = synthetic.synthetic_costs(synthetic_nb201_table)
    b = synthetic.synthetic_costs(synthetic_nb201_table)
    space = NB201Space()
    keys = nb201_measure_keys(space.genes_matrix([space.parse(s) for s in a["arch"]]))
    for name in synthetic.DEVICES:
        assert (a[name] > 0).all()
        per_class = a.groupby(keys)[name].nunique()
        assert (per_class == 1).all(), name  # a table times each isomorphism class once
    assert a.equals(b)  # the noise comes from a seed fixed by the device name
    noiseless = synthetic.synthetic_costs(synthetic_nb201_table, noise=False)
    ratio = a["synth_memory_ms"] / noiseless["synth_memory_ms"]
    assert 0.01 < np.log(ratio).std() < 0.1  # a few per cent of measurement noise
    # the input columns are kept untouched
    assert a[["arch", "acc", "lat_ms"]].equals(synthetic_nb201_table[["arch", "acc", "lat_ms"]])


def test_cost_follows_the_device_kind():
    space = NB201Space()
    cells = {
        "one 3x3": "|none~0|+|none~0|none~1|+|nor_conv_3x3~0|none~1|none~2|",
        "one 1x1": "|none~0|+|none~0|none~1|+|nor_conv_1x1~0|none~1|none~2|",
        "one pool": "|none~0|+|none~0|none~1|+|avg_pool_3x3~0|none~1|none~2|",
    }
    import pandas as pd

    t = synthetic.synthetic_costs(pd.DataFrame({"arch": list(cells.values())}), noise=False).set_index("arch")
    c = {k: t.loc[v] for k, v in cells.items()}
    assert c["one 3x3"]["synth_macs_ms"] > 2 * c["one 1x1"]["synth_macs_ms"]  # compute-bound: MACs decide
    assert c["one pool"]["synth_launch_ms"] > c["one 1x1"]["synth_launch_ms"]  # launch-bound: pooling is dear
    assert space.parse(cells["one 3x3"])  # the strings are valid cells
