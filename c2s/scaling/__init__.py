"""Scaling laws: collect sweep results, fit power laws, plot curves, write a report."""

from c2s.scaling.fit import PowerLawFit, fit_power_law

__all__ = ["PowerLawFit", "fit_power_law"]
