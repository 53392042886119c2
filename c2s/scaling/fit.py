"""Power-law fits of loss against parameters N and tokens D (Chinchilla's third approach).

L(N) = E + A·N^-α and L(N, D) = E + A·N^-α + B·D^-β, fitted on log-loss with a Huber loss
(δ = 1e-3) by L-BFGS from a grid of initialisations; the best fit wins (bootstrap refits
start from that optimum). Parameters are
optimised in log space (e = log E, a = log A, b = log B) so they stay positive.
CIs: bootstrap over the points (refit each resample), 2.5/97.5 percentiles; none when there are no more
distinct points than parameters. R² on log-loss.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize
from scipy.special import huber, logsumexp

DELTA = 1e-3


@dataclass
class PowerLawFit:
    params: dict[str, float]  # E, A, alpha (and B, beta)
    ci: dict[str, tuple[float, float]]
    r2: float
    n_points: int

    def predict(self, n: np.ndarray, d: np.ndarray | None = None) -> np.ndarray:
        p = self.params
        out = p["E"] + p["A"] * np.asarray(n, float) ** -p["alpha"]
        if "beta" in p:
            out = out + p["B"] * np.asarray(d, float) ** -p["beta"]
        return out


def _log_pred(theta: np.ndarray, log_n: np.ndarray, log_d: np.ndarray | None) -> np.ndarray:
    e, a, alpha = theta[:3]
    terms = [np.full_like(log_n, e), a - alpha * log_n]
    if log_d is not None:
        b, beta = theta[3:5]
        terms.append(b - beta * log_d)
    return logsumexp(np.stack(terms), axis=0)


def _objective(theta, log_n, log_d, log_l):
    return float(np.sum(huber(DELTA, _log_pred(theta, log_n, log_d) - log_l)))


def _fit_once(log_n, log_d, log_l, inits=None) -> np.ndarray:
    if inits is None:
        grids = [np.linspace(-1, 1.5, 3), np.linspace(0, 10, 3), np.linspace(0.1, 1.0, 3)]
        if log_d is not None:
            grids += [np.linspace(0, 10, 2), np.linspace(0.1, 1.0, 2)]
        inits = itertools.product(*grids)
    best, best_val = None, np.inf
    for init in inits:
        res = minimize(_objective, np.array(init), args=(log_n, log_d, log_l), method="L-BFGS-B")
        if res.fun < best_val:
            best, best_val = res.x, res.fun
    return best


def fit_power_law(
    n: np.ndarray, loss: np.ndarray, d: np.ndarray | None = None, n_boot: int = 200, seed: int = 0
) -> PowerLawFit:
    """Fit L(N) (or L(N, D) when ``d`` is given) to points (n_i, d_i, loss_i)."""
    log_n, log_l = np.log(np.asarray(n, float)), np.log(np.asarray(loss, float))
    log_d = None if d is None else np.log(np.asarray(d, float))
    theta = _fit_once(log_n, log_d, log_l)
    names = ["E", "A", "alpha"] + (["B", "beta"] if log_d is not None else [])

    def unpack(t):
        p = {"E": float(np.exp(t[0])), "A": float(np.exp(t[1])), "alpha": float(t[2])}
        if log_d is not None:
            p.update(B=float(np.exp(t[3])), beta=float(t[4]))
        return p

    rng = np.random.default_rng(seed)
    boots = []
    # a resample needs more distinct points than parameters, or every refit is the same exact fit (no CI)
    n_boot = n_boot if len(set(zip(log_n, log_n if log_d is None else log_d))) > len(names) else 0
    for _ in range(n_boot):
        i = rng.integers(0, log_n.size, log_n.size)
        if np.unique(log_n[i]).size < 3:
            continue
        # resamples start from the full-data optimum (and a perturbed copy): fast and stable
        starts = [theta, theta * rng.uniform(0.8, 1.2, theta.size)]
        boots.append(unpack(_fit_once(log_n[i], None if log_d is None else log_d[i], log_l[i], starts)))
    ci = (
        {
            k: (float(np.percentile([b[k] for b in boots], 2.5)), float(np.percentile([b[k] for b in boots], 97.5)))
            for k in names
        }
        if boots
        else {}
    )
    resid = log_l - _log_pred(theta, log_n, log_d)
    r2 = 1 - float(np.sum(resid**2) / max(np.sum((log_l - log_l.mean()) ** 2), 1e-300))
    return PowerLawFit(unpack(theta), ci, r2, int(log_n.size))
