"""Kernels reach numba in one form (`crisislab._compiled.call`), so each is compiled once.

numba compiles a kernel again for every new combination of argument types, and an array's layout
and read-only flag are part of its type: without `call`, the stage solver was compiled four times
in one test process (F-ordered grid layouts, read-only kept values, writable hand-built tables).
"""

from __future__ import annotations

import numba as nb
import numpy as np
import pytest

from crisislab._compiled import call
from crisislab.crisis import compile_scenario, solve
from crisislab.crisis import _kernels as K
from crisislab.scenario import load_scenario

from .conftest import DATA


@nb.njit(cache=False)
def _scaled_sum(a, b, scale, out):
    out[0] = scale * (a.sum() + b.sum())


def test_any_mix_of_layouts_and_flags_reaches_one_signature() -> None:
    out = np.zeros(1)
    a = np.arange(6.0).reshape(2, 3)
    ro = a.copy()
    ro.setflags(write=False)
    # numpy and Python scalars of one kind are one type; an int and a float would be two (the caller's choice)
    for x, y, s in ((a, a, 2.0), (a.T, ro, np.float64(2)), (np.asfortranarray(a), a[:, ::1], np.float32(2)), (ro, ro.T, 2.0)):
        call(_scaled_sum, x, y, s, out, outputs=1)
        assert out[0] == 60.0
    assert len(_scaled_sum.signatures) == 1, _scaled_sum.signatures
    # an output that cannot be written in place is refused, not silently copied
    with pytest.raises(TypeError, match="output 0 must be a writable C-contiguous array"):
        call(_scaled_sum, a, a, 1.0, np.zeros(4)[::2], outputs=1)


def test_the_stage_solver_is_compiled_once_whatever_its_callers_hold() -> None:
    cg = compile_scenario(load_scenario(DATA / "tiny.yaml"), horizon=2)
    solve(cg, grid=3)
    solve(cg, grid="cheb:5", keep_values=True)  # read-only kept values as the next decision's input
    solve(cg, grid="adapt:5")
    assert len(K._stage_kernel.signatures) == 1, K._stage_kernel.signatures
