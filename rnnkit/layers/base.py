"""The shared recurrent layer machinery: any cell, stacked, bidirectional, variable length.

Shapes: ``T`` steps, ``B`` batch, ``I`` input features, ``O`` a cell's output
features, ``D`` directions (1 or 2), ``L`` layers. Internally everything is
time-major ``(T, B, ...)``; ``batch_first`` only transposes at the edges.

Variable lengths: the batch is sorted by length once (descending) so that every
backend sees, at step ``t``, the still-running sequences as its first rows. The
reverse direction reads each sequence backwards from its own last valid step.
Outputs past a sequence's end are zero and its final state is the one at its
last valid step. Everything is put back in the caller's order at the end.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from rnnkit.backends import fused, reference, scan
from rnnkit.backends.select import BACKENDS, BackendFallbackWarning, choose
from rnnkit.cells import noise
from rnnkit.cells.noise import check_probability
from rnnkit.errors import ShapeError
from rnnkit.layers.checks import check_input, check_lengths, check_state
from rnnkit.state import map_state, zip_states

_RUNNERS = {"fused": fused.run, "reference": reference.run, "scan": scan.run}


class RecurrentBase(nn.Module):
    """Runs ``self.cell_at(layer, direction)`` over time for every layer and direction.

    Subclasses provide ``cell_at`` (a runnable cell bound to its weights),
    ``input_size``, ``num_layers``, ``bidirectional``, ``batch_first``, ``dropout``
    and, when torch's kernel can run them, ``native_call``.
    """

    input_size: int
    num_layers: int
    bidirectional: bool
    batch_first: bool
    dropout: float
    # regularisers inside the time loop (rnnkit.cells.noise) and on W_hh; class defaults keep layers
    # pickled before they existed loadable
    recurrent_dropout: float = 0.0
    zoneout: float = 0.0
    weight_drop: float = 0.0
    input_dropout: float = 0.0

    def _init_common(self, backend: str, dropout: float, num_layers: int, warn_dropout: bool = True) -> None:
        if backend not in BACKENDS:
            raise ValueError(f"unknown backend {backend!r}: expected one of {', '.join(BACKENDS)}")
        if not 0 <= dropout <= 1 or isinstance(dropout, bool):
            raise ValueError(f"dropout must be a number in [0, 1], got {dropout!r}")
        if num_layers < 1:
            raise ValueError(f"num_layers must be >= 1, got {num_layers}")
        if warn_dropout and dropout > 0 and num_layers == 1:
            warnings.warn(f"dropout={dropout} does nothing with num_layers=1: it applies between "
                          f"stacked layers only", UserWarning, stacklevel=3)
        self.backend = backend
        #: the backend that ran the last forward call ("native", "fused" or "reference"; "torch"
        #: when torch.nn's own forward ran because the call was traced, exported or compiled)
        self.backend_used: str | None = None
        #: how "native" ran the last call: "unpacked" (no lengths), "segments" (lengths on the CPU:
        #: one unpacked call per run of equal batch size, rnnkit.backends.segments) or "packed"
        self.native_path: str | None = None

    def _init_regularisers(self, recurrent_dropout: float = 0.0, zoneout: float = 0.0, weight_drop: float = 0.0,
                           input_dropout: float = 0.0) -> None:
        """Check and keep the regularisers (see :mod:`rnnkit.cells.noise`).

        ``recurrent_dropout``: variational dropout on ``H_{t-1}`` where it enters ``W_hh`` (one mask
        per sequence); ``input_dropout``: variational dropout on each layer's input (one mask per
        sequence, the same at every step); ``zoneout``: each state unit keeps its previous value
        with this probability (eval: the expectation); ``weight_drop``: DropConnect on every
        ``W_hh`` (one mask per forward call, Merity et al. 2018). All ``p`` in ``[0, 1)``.
        """
        name = type(self).__name__
        for key, p in (("recurrent_dropout", recurrent_dropout), ("zoneout", zoneout),
                       ("weight_drop", weight_drop), ("input_dropout", input_dropout)):
            try:
                value = check_probability(key, p)
            except ValueError as e:
                raise ValueError(f"{name}: {e}") from None
            object.__setattr__(self, key, value)
        loop = [k for k in ("recurrent_dropout", "zoneout", "input_dropout") if getattr(self, k) > 0]
        if loop and self.backend == "native":
            raise ValueError(f"{name}: {' and '.join(loop)} run inside rnnkit's time loop, which torch's kernel "
                             f"(backend='native') has no place for: use backend='auto' or 'fused'")

    def _loop_noise_active(self) -> bool:
        """Whether this call needs masks inside the time loop (torch's kernel can't run it then)."""
        return self.zoneout > 0 or (self.training and (self.recurrent_dropout > 0 or self.input_dropout > 0))

    def _regularised(self) -> bool:
        """Whether a regulariser changes this call's numbers (zoneout in eval mode does)."""
        return self._loop_noise_active() or (self.training and self.weight_drop > 0)

    def _drop_weight(self, key: Any, w: Tensor | None) -> Tensor | None:
        """``w`` with this call's DropConnect mask (the same tensor for every use within one call)."""
        dropped = self.__dict__.get("_dropped")
        if dropped is None or w is None:
            return w
        if key not in dropped:
            dropped[key] = F.dropout(w, self.weight_drop, training=True)
        return dropped[key]

    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    # -- hooks for subclasses ---------------------------------------------
    def cell_at(self, layer: int, direction: int) -> Any:
        raise NotImplementedError

    @property
    def cell_kind(self) -> str | None:
        """The built-in cell kind when every slot is one (enables fused), else ``None``."""
        return None

    def native_call(self, x: Tensor, hx: Any, lengths: Tensor | None,
                    batch_sizes: list[int] | None) -> tuple[Tensor, Any] | None:
        return None

    @property
    def can_native(self) -> bool:
        return False

    def _params(self) -> list[Tensor]:
        return list(self.parameters())

    # -- forward ------------------------------------------------------------
    def forward(self, input: Tensor | PackedSequence, hx: Any = None,
                lengths: Tensor | list[int] | None = None) -> tuple[Any, Any]:
        """Run the layer.

        Args:
            input: ``(T, B, I)``, ``(B, T, I)`` if ``batch_first``, unbatched ``(T, I)``,
                or a ``PackedSequence``.
            hx: initial state, each tensor ``(L*D, B, O)`` (LSTM: ``(h_0, c_0)`` with
                ``c_0 (L*D, B, H)``); zeros if omitted.
            lengths: ``(B,)`` valid steps per sequence; padding is masked without packing.

        Returns:
            ``(output, final_state)``: output ``(T, B, D*O)`` (or packed), final state
            shaped like ``hx``, taken at each sequence's last valid step.
        """
        name = type(self).__name__
        packed = isinstance(input, PackedSequence)
        if packed:
            if lengths is not None:
                raise ValueError(f"{name}: pass lengths or a PackedSequence, not both")
            # pad_packed_sequence puts the rows back in the caller's order (sorted_indices is
            # None for a batch packed already sorted: enforce_sorted=True, pack_sequence)
            sorted_idx, unsorted_idx = input.sorted_indices, input.unsorted_indices
            input, lengths = pad_packed_sequence(input, batch_first=False)
            batch_first = False
        else:
            batch_first = self.batch_first
        params = self._params()
        check_input(name, input, self.input_size, batch_first, params)
        unbatched = input.dim() == 2
        x = input.unsqueeze(1) if unbatched else (input.transpose(0, 1) if batch_first else input)
        T, B = x.shape[0], x.shape[1]
        lengths = check_lengths(name, lengths, B, T)

        expected = self._zero_state(B, x)
        if hx is None:
            state = expected
        else:
            if torch.is_autocast_enabled(x.device.type):
                # the state a previous call returned under autocast is in the autocast dtype
                hx = map_state(hx, lambda s: s.to(x.dtype) if s.is_floating_point() else s)
            check_state(name, hx, expected, unbatched)
            if hasattr(expected, "_fields") and not hasattr(hx, "_fields"):
                hx = type(expected)(*hx)  # a plain (h, c) tuple, as torch.nn takes it
            state = map_state(hx, lambda s: s.unsqueeze(1)) if unbatched else hx

        perm = batch_sizes = None
        if lengths is not None:
            lengths, perm = torch.sort(lengths, descending=True, stable=True)
            x = x.index_select(1, perm.to(x.device))
            state = map_state(state, lambda s: s.index_select(1, perm.to(s.device)))
            batch_sizes = (torch.arange(T).unsqueeze(1) < lengths.unsqueeze(0)).sum(1).tolist()

        # DropConnect on W_hh: one mask per call, shared by every step (and by every backend)
        self.__dict__["_dropped"] = {} if self.training and self.weight_drop > 0 else None
        try:
            out, final = self._run(x, state, lengths, batch_sizes)
        finally:
            self.__dict__["_dropped"] = None

        if perm is not None:
            inv = torch.empty_like(perm)
            inv[perm] = torch.arange(B)
            out = out.index_select(1, inv.to(out.device))
            final = map_state(final, lambda s: s.index_select(1, inv.to(s.device)))
            lengths = lengths[inv]
        if packed:
            if lengths is None:  # every sequence ran the whole T steps
                lengths = torch.full((B,), T, dtype=torch.int64)
            if sorted_idx is not None:
                out, lengths = out.index_select(1, sorted_idx), lengths[sorted_idx.cpu()]
            out = pack_padded_sequence(out, lengths, enforce_sorted=True)
            out = PackedSequence(out.data, out.batch_sizes, sorted_idx, unsorted_idx)
        elif unbatched:
            out = out.squeeze(1)
            final = map_state(final, lambda s: s.squeeze(1))
        elif batch_first:
            out = out.transpose(0, 1)
        return out, final

    def step(self, x_t: Tensor, state: Any = None) -> tuple[Tensor, Any]:
        """One time step, for streaming: ``x_t (B, I)`` (or unbatched ``(I,)``) -> ``(out_t, state)``.

        ``out_t (B, D*O)``; ``state`` as ``forward``'s (``None``: zeros). Feeding a sequence
        step by step, carrying the state, gives the outputs and final state of one
        ``forward`` call over the whole sequence (unidirectional layers: a reverse
        direction needs the whole sequence).
        """
        if self.bidirectional:
            raise ValueError(f"{type(self).__name__}: step() needs a unidirectional layer (a reverse "
                             f"direction reads the sequence from its end)")
        if not isinstance(x_t, Tensor) or x_t.dim() not in (1, 2):
            got = tuple(x_t.shape) if isinstance(x_t, Tensor) else type(x_t).__name__
            raise ShapeError(f"{type(self).__name__}: step() expects one step, x_t of shape (B, I) or (I,), "
                             f"got {got}")
        # one step as a sequence of length 1: (1, B, I), (B, 1, I), or unbatched (1, I)
        time_dim = 1 if self.batch_first and x_t.dim() == 2 else 0
        out, state = self(x_t.unsqueeze(time_dim), state)
        return out.squeeze(time_dim), state

    def _zero_state(self, batch: int, x: Tensor) -> Any:
        """Zeros shaped like the layer state: each cell-state tensor stacked to ``(L*D, B, ...)``."""
        one = self.cell_at(0, 0).initial_state(batch, dtype=x.dtype, device=x.device)
        n = self.num_layers * self.num_directions
        return map_state(one, lambda s: s.unsqueeze(0).expand(n, *s.shape).contiguous())

    def _backend_for(self, x: Tensor) -> str:
        grad = torch.is_grad_enabled() and (x.requires_grad or any(p.requires_grad for p in self._params()))
        H = getattr(self, "hidden_size", 0)
        # the fused loop computes in the input's dtype; under autocast torch's kernel or
        # autograd over the steps apply autocast's casting rules
        autocast = torch.is_autocast_enabled(x.device.type)
        return choose(self.backend, kind=self.cell_kind, can_native=self.can_native and not self._loop_noise_active(),
                      can_fused=self.cell_kind is not None and not autocast, training_grad=grad,
                      device_type=x.device.type, step_work=x.shape[1] * H * H, autocast=autocast,
                      proj_size=getattr(self, "proj_size", 0) or 0)

    def _run(self, x: Tensor, state: Any, lengths: Tensor | None,
             batch_sizes: list[int] | None) -> tuple[Tensor, Any]:
        backend = self._backend_for(x)
        self.__dict__["backend_used"] = backend  # a plain attribute: skip Module.__setattr__'s lookups
        if backend == "native":
            try:
                return self.native_call(x, state, lengths, batch_sizes)
            except RuntimeError as e:
                # oneDNN builds no bf16 LSTM on CPUs without bf16 instructions (torch.nn fails the
                # same way); autograd over the steps applies autocast's casts and runs anywhere
                if not (x.device.type == "cpu" and torch.is_autocast_enabled("cpu")):
                    raise
                warnings.warn(f"torch's CPU kernel cannot run under autocast on this machine "
                              f"({str(e).splitlines()[0]}); running 'reference' instead",
                              BackendFallbackWarning, stacklevel=3)
                backend = self.backend_used = "reference"
        run = _RUNNERS[backend]
        D = self.num_directions
        finals = []
        layer_in = x
        rev_idx = _reverse_index(lengths, x.shape[0], x.device) if D == 2 else None
        noisy = self._loop_noise_active()
        for k in range(self.num_layers):
            outs = []
            if noisy and self.training and self.input_dropout > 0:
                keep = 1.0 - self.input_dropout
                mask = layer_in.new_empty(1, *layer_in.shape[1:]).bernoulli_(keep).div_(keep)
                layer_in = layer_in * mask  # (1, B, I): the same mask at every step (variational)
            for d in range(D):
                s0 = map_state(state, lambda s, i=k * D + d: s[i])
                xin = layer_in if d == 0 else _reverse(layer_in, rev_idx)
                ns = (noise.sample(self.recurrent_dropout, self.zoneout, self.training, x.shape[0], s0, x)
                      if noisy else None)
                out, fin = run(self.cell_at(k, d), xin, s0, lengths, batch_sizes, noise=ns)
                outs.append(out if d == 0 else _reverse(out, rev_idx))
                finals.append(fin)
            layer_in = outs[0] if D == 1 else torch.cat(outs, -1)
            if self.dropout > 0 and self.training and k < self.num_layers - 1:
                layer_in = F.dropout(layer_in, self.dropout, training=True)
        return layer_in, zip_states(lambda *s: torch.stack(s, 0), *finals)

    def extra_repr(self) -> str:
        s = f"layers={self.num_layers}, bidirectional={self.bidirectional}, backend={self.backend!r}"
        return s + (", batch_first=True" if self.batch_first else "") + self._regulariser_repr()

    def _regulariser_repr(self) -> str:
        return "".join(f", {k}={getattr(self, k)}" for k in ("recurrent_dropout", "zoneout", "weight_drop",
                                                           "input_dropout") if getattr(self, k) > 0)


def _reverse_index(lengths: Tensor | None, T: int, device: torch.device) -> Tensor | None:
    """``(T, B)`` index reading each sequence backwards from its last valid step (``None``: plain flip)."""
    if lengths is None:
        return None
    t = torch.arange(T).unsqueeze(1)
    L = lengths.unsqueeze(0)
    return torch.where(t < L, L - 1 - t, t).to(device)


def _reverse(x: Tensor, idx: Tensor | None) -> Tensor:
    """Reverse ``x (T, B, F)`` in time within each sequence's length (an involution)."""
    if idx is None:
        return x.flip(0)
    return x.gather(0, idx.unsqueeze(-1).expand_as(x))
