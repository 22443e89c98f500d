"""Importing the plugin stays cheap: every pytest run where the package is installed pays for it.

The pytest11 entry point (``pytest_albench.plugin.hooks``) and the option parsing it needs must not
pull in numpy, torch, scipy or scikit-learn; those load only when a case runs or a report is built.
A fresh interpreter is used, since this test process has long imported them all.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("numpy", "torch", "scipy", "sklearn")


def imported_after(code: str) -> set[str]:
    """The top-level packages a fresh interpreter holds after running ``code``."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}})))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize(
    "module",
    ["pytest_albench.plugin.hooks", "pytest_albench.plugin.options", "pytest_albench.choices", "pytest_albench"],
)
def test_importing_the_plugin_leaves_the_heavy_libraries_out(module: str) -> None:
    loaded = imported_after(f"import {module}")
    assert module.split(".")[0] in loaded, "the probe must see the module it imported"
    assert not loaded & set(HEAVY), f"import {module} pulled in {sorted(loaded & set(HEAVY))}"


def test_the_probe_does_see_a_heavy_import() -> None:
    """Guard against a probe that can never fail: importing the statistics does load numpy."""
    assert "numpy" in imported_after("import pytest_albench.stats.paired")


def test_a_pytest_run_that_runs_no_case_leaves_them_out_too(tmp_path: Path) -> None:
    """Options are resolved, the header printed and every report passes the plugin's hooks in every
    run, albench cases or not: that path must stay light as well."""
    test_file = tmp_path / "test_plain.py"
    test_file.write_text("def test_plain():\n    assert True\n")
    args = ["-q", "-p", "no:cacheprovider", "-p", "no:xdist", str(test_file)]
    code = (
        f"import pytest\nassert pytest.main({args!r}) == 0\n"
        "import sys\nassert 'pytest_albench.plugin.hooks' in sys.modules, 'the plugin must have been loaded'"
    )
    loaded = imported_after(code)
    assert "pytest_albench" in loaded
    assert not loaded & set(HEAVY), f"a plain pytest run pulled in {sorted(loaded & set(HEAVY))}"


#: One tiny AL run per strategy and head (logistic, MLP; BALD also with the bootstrap posterior, which
#: refits the logistic head per sample), on a synthetic pool.
_AL_CASES = """
import numpy as np
from pytest_albench.engine.loop import PoolProblem, run_active_learning
from pytest_albench.strategies import strategy_names

gen = np.random.default_rng(0)
y = np.arange(120) % 3
x = (gen.normal(size=(3, 16))[y] + gen.normal(size=(120, 16))).astype(np.float32)
problem = PoolProblem(x[:90], y[:90], x[90:], y[90:], 3)
runs = [(s, h, {"epochs": 5} if h == "mlp" else {}) for s in strategy_names() for h in ("logistic", "mlp")]
for strategy, head, params in runs + [("bald", "logistic", {"posterior": "bootstrap"})]:
    run_active_learning(problem, strategy=strategy, seed=0, initial_pool_size=6, schedule=[6, 6], head=head,
                        head_params=params, device="cpu")
"""


def test_an_al_case_never_imports_torch_dynamo() -> None:
    """torch.optim's optimisers import torch._dynamo (1.5-2.4 s) when constructed; the heads use
    pytest_albench.engine.optim instead, so no AL run pays for it."""
    probe = _AL_CASES + "import sys\nprint('dynamo' if 'torch._dynamo' in sys.modules else 'clean')"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=600, check=True)
    assert done.stdout.strip().splitlines()[-1] == "clean", "an AL run imported torch._dynamo"


def test_the_dynamo_probe_can_fail() -> None:
    """Guard: constructing a torch.optim optimiser does import torch._dynamo (what the heads avoid)."""
    probe = (
        "import sys, torch\nassert 'torch._dynamo' not in sys.modules\n"
        "torch.optim.LBFGS([torch.zeros(1, requires_grad=True)])\nprint('torch._dynamo' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.strip().splitlines()[-1] == "True"
