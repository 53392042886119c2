"""python train.py [overrides]: the training entry point (c2s.cli.train; the job is c2s.training.train_job)."""

from c2s.cli import hydra_entry
from c2s.cli.train import main, run, validate  # noqa: F401  (run, validate: for notebooks and tests)

if __name__ == "__main__":
    hydra_entry(main)
