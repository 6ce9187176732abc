"""One HTML page per run: its config, curves, speed, the task's own views, and what the hidden units track.

Modules, one concept each: ``run`` (reading a run directory), ``html`` / ``svg`` / ``textcolor`` (the
page's pieces), ``summary`` (config, curves, throughput), ``properties`` and ``units`` (hidden-unit
traces, their correlation with named properties, gate saturation), ``activations`` (that view as HTML),
``flow`` (gradient flow through time), one module per task's views, ``build`` (the page) and
``inspect`` (``rnnkit inspect RUN --text FILE``).
"""

from rnnkit.diagnostics.report.build import REPORT, build_report, report_after_training, write_report

__all__ = ["REPORT", "build_report", "report_after_training", "write_report"]
