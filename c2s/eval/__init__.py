"""Evaluation: generation, output parsing, metrics with bootstrap CIs, baselines, reports."""
