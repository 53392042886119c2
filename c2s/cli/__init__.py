"""Command-line entry points (Hydra mains)."""
