"""python evaluate.py [overrides]: the evaluation entry point (c2s.cli.evaluate; the job is c2s.training.eval_job)."""

from c2s.cli import hydra_entry
from c2s.cli.evaluate import main, run  # noqa: F401  (run: for notebooks and tests)

if __name__ == "__main__":
    hydra_entry(main)
