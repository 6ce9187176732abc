"""Analyses of trained and untrained recurrent nets: gradient flow through time, attention heatmaps, and the
HTML report of a run (:mod:`rnnkit.diagnostics.report`, imported on use)."""

from rnnkit.diagnostics.gradflow import GradFlow, gradient_flow, jacobian_norms, plot_gradflow

__all__ = ["GradFlow", "gradient_flow", "jacobian_norms", "plot_gradflow"]
