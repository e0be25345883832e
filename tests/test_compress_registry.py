"""Compression steps are a plug-in point like the others: registered by name, built with checked options."""

import pytest

from hwnas.compress import COMPRESSORS, Compressed, CompressionStep
from hwnas.core.errors import ConfigError


class HalveWidth(CompressionStep):
    """A toy step: keeps ``fraction`` of a list standing in for a module's channels."""

    name = "halve"

    def __init__(self, fraction: float = 0.5):
        self.fraction = fraction

    def apply(self, module, data):
        kept = module[: max(1, int(len(module) * self.fraction))]
        return Compressed(kept, {"kept": len(kept)})


def test_a_registered_step_is_built_by_name_and_leaves_its_input_alone():
    COMPRESSORS.register("halve", HalveWidth)
    try:
        step = COMPRESSORS.create("halve", fraction=0.25)
        module = list(range(8))
        out = step.apply(module, data=None)
        assert out.model == [0, 1] and out.info == {"kept": 2} and module == list(range(8))
        with pytest.raises(ConfigError, match=r"compression step 'halve': unknown option\(s\) \['bits'\]"):
            COMPRESSORS.create("halve", bits=8)
        with pytest.raises(TypeError, match="is not a CompressionStep"):
            COMPRESSORS.register("bad", dict)
    finally:
        COMPRESSORS.unregister("halve")
    assert "halve" not in COMPRESSORS
