"""The power-law fitter recovers known exponents from noisy synthetic points."""

import numpy as np
import pytest

from c2s.scaling.fit import fit_power_law


def test_recovers_alpha_of_l_n():
    rng = np.random.default_rng(0)
    n = np.logspace(5, 7.5, 8)
    loss = (1.7 + 400 * n**-0.34) * np.exp(rng.normal(0, 0.005, n.size))
    fit = fit_power_law(n, loss, n_boot=60)
    assert fit.params["alpha"] == pytest.approx(0.34, abs=0.05)
    assert fit.params["E"] == pytest.approx(1.7, abs=0.15)
    lo, hi = fit.ci["alpha"]
    assert lo <= fit.params["alpha"] <= hi
    assert fit.r2 > 0.98


def test_recovers_alpha_and_beta_of_l_n_d():
    rng = np.random.default_rng(1)
    n, d = np.meshgrid(np.logspace(5, 7, 5), np.logspace(6, 8, 5))
    n, d = n.ravel(), d.ravel()
    loss = (1.5 + 300 * n**-0.3 + 900 * d**-0.28) * np.exp(rng.normal(0, 0.003, n.size))
    fit = fit_power_law(n, loss, d=d, n_boot=20)
    assert fit.params["alpha"] == pytest.approx(0.3, abs=0.06)
    assert fit.params["beta"] == pytest.approx(0.28, abs=0.06)
    assert fit.r2 > 0.98
