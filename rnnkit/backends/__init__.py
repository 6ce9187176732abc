"""How the time loop executes.

- ``reference``: plain autograd over the cell's step; any cell.
- ``fused``: our written-out BPTT over the whole sequence; built-in cells.
- ``native``: torch's own fused kernel (oneDNN / cuDNN); built-in torch.nn-compatible layers.

``auto`` picks per call (see :func:`rnnkit.backends.select.choose`); a backend asked
for by name that cannot run the case falls back with a :class:`BackendFallbackWarning`.
"""

from rnnkit.backends.select import BACKENDS, BackendFallbackWarning, choose

__all__ = ["BACKENDS", "BackendFallbackWarning", "choose"]
