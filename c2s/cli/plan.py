"""Dry run of a Hydra multirun: print the job plan (one line of overrides per job) and the
launcher settings, without launching or submitting anything.

    python -m c2s.cli.plan experiment=scaling_params hydra/launcher=slurm
"""

from __future__ import annotations

import itertools
import sys

from omegaconf import OmegaConf

from c2s.cli import exit_on_input_error
from c2s.errors import C2SInputError


def job_plan(overrides: list[str], config_name: str = "train") -> tuple[list[list[str]], dict]:
    """(jobs, launcher): each job's overrides, from the sweep params and comma lists in ``overrides``."""
    from hydra import compose, initialize_config_dir
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    from c2s.config.compose import CONFIG_DIR
    from c2s.config.store import register_configs

    register_configs()
    parser = OverridesParser.create()
    fixed, swept = [], []
    try:
        parsed = parser.parse_overrides(overrides)
    except HydraException as exc:
        raise C2SInputError(f"Bad override: {str(exc).splitlines()[0]}") from None
    for o in parsed:
        (swept if o.is_sweep_override() else fixed).append(o)
    try:
        with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
            cfg = compose(config_name=config_name, overrides=[o.input_line for o in fixed], return_hydra_config=True)
    except (HydraException, OmegaConfBaseException) as exc:
        raise C2SInputError(
            f"The overrides do not compose: {str(exc).splitlines()[0]}. Check them against configs/."
        ) from None
    params = dict(cfg.hydra.sweeper.params or {})
    taken = {o.key_or_group for o in (*swept, *fixed)}  # the command line wins over hydra.sweeper.params
    swept += parser.parse_overrides([f"{k}={v}" for k, v in params.items() if k not in taken])
    axes = [
        [f"{o.key_or_group}={v}" for v in o.sweep_string_iterator()] if o.is_sweep_override() else [o.input_line]
        for o in swept
    ]
    jobs = (
        [[o.input_line for o in fixed] + list(combo) for combo in itertools.product(*axes)]
        if axes
        else [[o.input_line for o in fixed]]
    )
    launcher = OmegaConf.to_container(cfg.hydra.launcher, resolve=False)
    return jobs, launcher


def main(argv: list[str] | None = None) -> None:
    exit_on_input_error(_print_plan, list(sys.argv[1:] if argv is None else argv), "c2s.cli.plan")


def _print_plan(overrides: list[str]) -> None:
    jobs, launcher = job_plan(overrides)
    print(f"launcher: {launcher.get('_target_')}")
    for k in (
        "partition",
        "account",
        "nodes",
        "gpus_per_node",
        "tasks_per_node",
        "cpus_per_task",
        "mem_gb",
        "timeout_min",
        "n_jobs",
    ):
        if k in launcher:
            print(f"  {k}: {launcher[k]}")
    print(f"{len(jobs)} job(s), nothing submitted:")
    for i, job in enumerate(jobs):
        print(f"  [{i}] python train.py " + " ".join(job))


if __name__ == "__main__":
    main()
