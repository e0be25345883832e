"""A layer carries the bit widths it runs at; cost caches key on them."""

import pytest

from hwnas.core.errors import CostModelError
from hwnas.core.layers import Layer


def test_bits_default_float32_and_keyed_when_set():
    fp = Layer("conv", 8, 16, 8, 8, kernel=3)
    q = Layer("conv", 8, 16, 8, 8, kernel=3, w_bits=8, a_bits=8)
    assert (fp.w_bits, fp.a_bits) == (32, 32)
    assert fp.shape_key() != q.shape_key()
    assert "w_bits" not in fp.to_dict() and q.to_dict()["w_bits"] == 8
    assert Layer.from_dict(q.to_dict()) == q


def test_bits_outside_allowed_set_refused_naming_layer():
    with pytest.raises(CostModelError, match=r"stem: w_bits=3 not allowed; allowed \[4, 8, 16, 32\]"):
        Layer("conv", 8, 16, 8, 8, name="stem", w_bits=3)
