"""``hwnas studies --storage URL`` lists every study with its state."""

import time

from study_fixtures import ProbeStrategy
from worker_proc import OBJ, SlowFormula

from hwnas.cli.main import main
from hwnas.spaces.nb201 import NB201Space
from hwnas.storage import SQLStorage
from hwnas.study import Study


def test_studies_lists_state_front_and_heartbeat(tmp_path, capsys):
    db = tmp_path / "s.db"
    done = Study(NB201Space(), SlowFormula(), OBJ, ProbeStrategy(), storage=SQLStorage(db), name="alpha", seed=1)
    done.optimize(10)
    storage = SQLStorage(db)
    beta = Study(NB201Space(), SlowFormula(), OBJ, ProbeStrategy(), storage=storage, name="beta", seed=2)
    beta.optimize(3)
    arch = NB201Space().parse(
        "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|")
    storage.claim("beta", "far:1::x", [(NB201Space().key(arch), arch)], budget=None)
    assert main(["studies", "--storage", str(db)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:6] == ["study", "done", "failed", "running", "workers", "front"]
    alpha = out[1].split()
    assert alpha[:5] == ["alpha", "10", "0", "0", "0"] and int(alpha[5]) == len(done.pareto_front())
    b = out[2].split()
    assert b[:5] == ["beta", "3", "0", "1", "1"] and "s ago" in out[2]
    assert time.strftime("%Y-%m-%d") in out[2]


def test_studies_of_a_missing_file_names_it(tmp_path, capsys):
    assert main(["studies", "--storage", str(tmp_path / "none.db")]) == 2
    assert f"--storage {tmp_path / 'none.db'}: file not found" in capsys.readouterr().err
