"""Comparison helpers with the semantics of PyTorch's ``TestCase.assertEqual`` / ``assertNotEqual``."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from numbers import Number
from typing import Any

import torch


def assert_equal(actual: Any, expected: Any, *, atol: float | None = None, rtol: float | None = None,
                 msg: str | None = None) -> None:
    """Tensors (and nested tuples/lists of them) close within torch.testing's dtype-based defaults.

    A tensor compared with a number or a list is compared with ``torch.as_tensor`` of it in the
    tensor's dtype, as PyTorch's ``assertEqual`` does; NaNs compare equal; tolerances may be overridden.
    """
    if isinstance(actual, torch.Tensor) or isinstance(expected, torch.Tensor):
        if not isinstance(actual, torch.Tensor):
            actual = torch.as_tensor(actual, dtype=expected.dtype, device=expected.device)
        if not isinstance(expected, torch.Tensor):
            expected = torch.as_tensor(expected, dtype=actual.dtype, device=actual.device)
        if atol is not None and rtol is None:
            rtol = 0.0
        if rtol is not None and atol is None:
            atol = 0.0
        torch.testing.assert_close(actual.detach(), expected.detach(), atol=atol, rtol=rtol, equal_nan=True,
                                   msg=msg)
        return
    if isinstance(actual, Mapping) and isinstance(expected, Mapping):
        assert actual.keys() == expected.keys(), msg or f"keys differ: {actual.keys()} vs {expected.keys()}"
        for k in actual:
            assert_equal(actual[k], expected[k], atol=atol, rtol=rtol, msg=msg)
        return
    if (isinstance(actual, Sequence) and isinstance(expected, Sequence)
            and not isinstance(actual, str) and not isinstance(expected, str)):
        assert len(actual) == len(expected), msg or f"lengths differ: {len(actual)} vs {len(expected)}"
        for a, e in zip(actual, expected):
            assert_equal(a, e, atol=atol, rtol=rtol, msg=msg)
        return
    if isinstance(actual, Number) and isinstance(expected, Number) and (atol is not None or rtol is not None):
        assert abs(actual - expected) <= (atol or 0.0) + (rtol or 0.0) * abs(expected), msg
        return
    assert actual == expected, msg or f"{actual!r} != {expected!r}"


def assert_not_equal(actual: Any, expected: Any, **kw: Any) -> None:
    """The negation of :func:`assert_equal`."""
    try:
        assert_equal(actual, expected, **kw)
    except AssertionError:
        return
    raise AssertionError(f"values are equal, expected them to differ:\n{actual!r}\n{expected!r}")


@contextlib.contextmanager
def default_dtype(dtype: torch.dtype) -> Iterator[None]:
    """``torch.set_default_dtype`` for the block (common_utils' ``set_default_dtype`` decorator)."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(old)


def gradcheck(fn: Any, inputs: Any, **kw: Any) -> bool:
    """torch.autograd.gradcheck with the defaults of PyTorch's test harness (fast mode)."""
    kw.setdefault("fast_mode", True)
    kw.setdefault("check_batched_grad", True)
    return torch.autograd.gradcheck(fn, inputs, **kw)


def gradgradcheck(fn: Any, inputs: Any, **kw: Any) -> bool:
    """torch.autograd.gradgradcheck with the defaults of PyTorch's test harness (fast mode)."""
    kw.setdefault("fast_mode", True)
    kw.setdefault("check_batched_grad", True)
    return torch.autograd.gradgradcheck(fn, inputs, **kw)


# precision per dtype used by PyTorch's tests (common_utils.dtype2prec_DONTUSE)
DTYPE_PREC = {torch.float: 1e-5, torch.double: 1e-5, torch.half: 1e-2, torch.bfloat16: 1e-1}
