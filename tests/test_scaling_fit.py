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


def _result(n: float, acc: float, fid: float) -> dict:
    ci = lambda v, w: {"value": v, "ci_low": v - w, "ci_high": v + w}  # noqa: E731
    return {
        "model": f"m{int(n)}",
        "non_embedding_params": n,
        "params": 2 * n,
        "tokens": 1e6,
        "flops": 6e6 * n,
        "val_loss": 3.0,
        "metrics": {
            "cell_type_annotation": {
                "model": {"accuracy": ci(acc, 0.02), "macro_f1": ci(acc / 2, 0.02)},
                "model_sampled": None,
                "baselines": {"knn_pca": {"accuracy": ci(0.8, 0.01)}},
            },
            "cell_lm": {
                "model": {"scfid": ci(fid, 5.0)},
                "model_sampled": {"scfid": ci(fid / 2, 5.0)},
                "baselines": {"marginal_sampler": {"scfid": ci(70.0, 3.0)}},
            },
        },
    }


def test_metric_error_fit_table_and_plot(tmp_path):
    """Annotation error = 0.1 + 3·N^-0.3 by construction: the fit recovers α; the table and the plot carry every
    run, the sampled values and the baselines."""
    from c2s.scaling.metrics import fit_metric_errors, metric_keys, metric_table
    from c2s.scaling.plots import metrics_plot

    n = np.logspace(4, 7, 6)
    results = [_result(x, 1 - (0.1 + 3 * x**-0.3), 100 * x**-0.1) for x in n]
    assert metric_keys(results) == ["cell_type_annotation/accuracy", "cell_lm/scfid"]  # macro_f1: not shown
    fits = fit_metric_errors(results, n_boot=20)
    assert set(fits) == {"cell_type_annotation/accuracy"}  # scFID has no natural error
    assert fits["cell_type_annotation/accuracy"].params["alpha"] == pytest.approx(0.3, abs=0.03)
    table = metric_table(results)
    assert len([line for line in table if line.startswith("| m") and "tokens" not in line]) == 6
    assert " / " in table[2] and "knn_pca 0.8" in table[-1]
    metrics_plot(results, fits, "non_embedding_params", "N", tmp_path / "m.png", "t")
    assert (tmp_path / "m.png").stat().st_size > 10_000
    assert metric_keys(results[:2] + [{k: v for k, v in results[2].items() if k != "metrics"}]) == []


def test_seed_arms_mean_sd_and_t_interval():
    """Runs named <arm>-s<seed> pool into one arm; 3 seeds of accuracy 0.2, 0.4, 0.6: mean 0.4, sd 0.2,
    95% t-interval 0.4 ± t(0.975, 2)·0.2/√3 = 0.4 ± 4.3027·0.11547 (worked by hand)."""
    from c2s.scaling.seeds import seed_arms, seed_summary, seed_table

    results = []
    for arm, accs in (("gene", (0.2, 0.4, 0.6)), ("bpe", (0.1, 0.1, 0.4))):
        for s, acc in enumerate(accs):
            r = _result(1e5, acc, 50.0)
            results.append(r | {"name": f"scale-2-{arm}-s{s}", "val_loss": 3.0 + s})
    results.append(_result(1e6, 0.9, 50.0) | {"name": "alone"})  # no replicate: no arm
    assert list(seed_arms(results)) == ["scale-2-gene", "scale-2-bpe"]
    summary = seed_summary(results)
    acc = summary["scale-2-gene"]["cell_type_annotation/accuracy"]
    assert (acc["mean"], acc["sd"], acc["n"]) == (pytest.approx(0.4), pytest.approx(0.2), 3)
    assert acc["ci_high"] - 0.4 == pytest.approx(4.3027 * 0.2 / np.sqrt(3), rel=1e-4)
    assert summary["scale-2-bpe"]["val_loss"]["mean"] == pytest.approx(4.0)
    assert "cell_lm/scfid (sampled)" in summary["scale-2-gene"]  # sampled decoding pooled too
    table = seed_table(summary)
    assert len(table) == 4 and table[2].startswith("| scale-2-gene | 3 | 4 ± 1 [")


def test_grid_sweep_fits_joint_and_per_size_laws_but_no_fixed_d_law(tmp_path):
    """3 sizes × 4 budgets from L = 1.5 + 300·N^-0.3 + 900·D^-0.28: the report fits L(N, D) and L(D) per size
    (exponent 0.28 recovered at each size); L(N) would mix budgets, so it is not fitted."""
    import json

    from c2s.scaling.report import scaling_report

    for n in (1e5, 1e6, 1e7):
        for d in (1e5, 3e5, 1e6, 3e6):
            run = tmp_path / f"m{int(n)}-t{int(d)}"
            run.mkdir()
            loss = 1.5 + 300 * n**-0.3 + 900 * d**-0.28
            result = {"name": run.name, "model": f"m{int(n)}", "non_embedding_params": n, "params": int(2 * n)}
            result |= {"tokens": d, "flops": 6 * n * d, "val_loss": loss}
            (run / "result.json").write_text(json.dumps(result))
    fits = scaling_report(tmp_path, n_boot=10)["fits"]
    per_size = {f"L(D) at m{int(n)} ({int(2 * n):,} params)" for n in (1e5, 1e6, 1e7)}
    assert "L(N)" not in fits and set(fits) == {"L(N,D)", *per_size}
    assert fits["L(N,D)"]["params"]["beta"] == pytest.approx(0.28, abs=0.03)
    for key in per_size:
        assert fits[key]["params"]["alpha"] == pytest.approx(0.28, abs=0.03)
        assert fits[key]["ci"]  # 4 budgets, 3 parameters: bootstrap CIs
    assert "L(D) at m1000000 (2,000,000 params)" in (tmp_path / "scaling.md").read_text()


def test_plot_series_by_model_size_and_by_d_and_replot(tmp_path):
    """Against D a series per model size (joined in order of D), against N a series per D; replot redraws every
    PNG from scaling.json alone."""
    import json

    from c2s.scaling.plots import replot, series

    runs = [
        {"model": m, "non_embedding_params": n, "tokens": d, "flops": 6 * n * d, "val_loss": 5 - 0.1 * i}
        for i, (m, n, d) in enumerate([("s1", 1e5, 3e5), ("s2", 1e6, 1e5), ("s1", 1e5, 1e5), ("s2", 1e6, 3e5)])
    ]
    by_size = series(runs, "tokens")
    assert [label for label, _ in by_size] == ["s1 (N = 1e+05)", "s2 (N = 1e+06)"]
    assert [[runs[i]["tokens"] for i in idx] for _, idx in by_size] == [[1e5, 3e5], [1e5, 3e5]]
    assert [label for label, _ in series(runs, "non_embedding_params")] == ["D = 1e+05 tokens", "D = 3e+05 tokens"]
    (tmp_path / "scaling.json").write_text(json.dumps({"sweep": "x", "runs": runs, "fits": {}, "metric_fits": {}}))
    assert replot(tmp_path) == ["loss_vs_flops.png", "loss_vs_params.png", "loss_vs_tokens.png"]
