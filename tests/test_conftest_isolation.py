"""The suite's own latency/data cache (conftest's autouse session fixture): nothing touches ~/.cache/hwnas."""

import os
from pathlib import Path

from hwnas.costs.measure import LatencyCache, default_cache_path


def test_suite_uses_its_own_cache_folder(isolated_hwnas_cache):
    assert os.environ["HWNAS_CACHE"] == str(isolated_hwnas_cache)
    assert default_cache_path() == Path(isolated_hwnas_cache) / "latency.json"
    assert Path.home() / ".cache" / "hwnas" not in default_cache_path().parents
    assert LatencyCache().path.parent == Path(isolated_hwnas_cache)
