"""CRF: log-partition and Viterbi against brute-force enumeration; padding; constraints."""

from __future__ import annotations

import itertools

import pytest
import torch

from rnnkit.data import tagschemes
from rnnkit.models.crf import CRF

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny tensors: see tests/conftest.py

LABELS = ["B-A", "E-A", "I-A", "O", "S-A"]


def _random_crf(K: int, constrained: bool, seed: int = 0) -> CRF:
    torch.manual_seed(seed)
    if constrained:
        crf = CRF(K, *(torch.tensor(a) for a in tagschemes.allowed(LABELS, "bioes")))
    else:
        crf = CRF(K)
    with torch.no_grad():
        for p in crf.parameters():
            p.normal_()
    return crf


def _brute(crf: CRF, em: torch.Tensor, n: int) -> tuple[float, list[int]]:
    """log Z and the best sequence of one sentence ``em (1, n, K)`` by enumerating all K^n sequences."""
    K = em.shape[-1]
    seqs = list(itertools.product(range(K), repeat=n))
    mask = torch.ones(1, n, dtype=torch.bool)
    scores = torch.stack([crf.score(em, torch.tensor([s]), mask)[0] for s in seqs]).detach()
    return float(torch.logsumexp(scores, 0)), list(seqs[int(scores.argmax())])


def test_log_partition_and_viterbi_equal_enumeration():
    for constrained in (False, True):
        crf = _random_crf(len(LABELS), constrained)
        lengths = torch.tensor([4, 1, 3, 2])
        em = torch.randn(4, 4, len(LABELS))
        mask = torch.arange(4)[None] < lengths[:, None]
        logz = crf.log_partition(em, mask).detach()
        best = crf.decode(em, mask)
        for b, n in enumerate(lengths.tolist()):
            want_z, want_best = _brute(crf, em[b : b + 1, :n], n)
            assert abs(float(logz[b]) - want_z) < 1e-4
            assert best[b, :n].tolist() == want_best
            assert best[b, n:].eq(0).all()


def test_likelihood_is_a_distribution():
    crf = _random_crf(3, False)
    em = torch.randn(1, 3, 3)
    mask = torch.ones(1, 3, dtype=torch.bool)
    total = sum(float(crf.log_likelihood(em, torch.tensor([s]), mask).detach().exp())
                for s in itertools.product(range(3), repeat=3))
    assert abs(total - 1) < 1e-5


def test_padding_changes_nothing():
    crf = _random_crf(len(LABELS), True)
    em = torch.randn(1, 3, len(LABELS))
    tags = torch.tensor([[0, 1, 3]])  # B-A E-A O
    one = torch.ones(1, 3, dtype=torch.bool)
    padded_em = torch.cat([em, 100 * torch.randn(1, 4, len(LABELS))], 1)  # wild scores on the padding
    padded_tags = torch.cat([tags, torch.tensor([[2, 2, 0, 4]])], 1)  # and forbidden tags there
    mask = torch.tensor([[1, 1, 1, 0, 0, 0, 0]], dtype=torch.bool)
    a = crf.log_likelihood(em, tags, one)
    b = crf.log_likelihood(padded_em, padded_tags, mask)
    assert torch.allclose(a, b) and torch.isfinite(b).all()
    assert crf.decode(padded_em, mask)[0, :3].tolist() == crf.decode(em, one)[0].tolist()
    # and the gradient reaches no padded emission
    padded_em.requires_grad_(True)
    crf.log_likelihood(padded_em, padded_tags, mask).sum().backward()
    assert padded_em.grad[0, 3:].abs().max() == 0


def test_constrained_decoding_is_always_legal():
    crf = _random_crf(len(LABELS), True, seed=1)
    with torch.no_grad():  # make illegal moves tempting: high learned scores everywhere
        crf.trans.fill_(5.0)
        crf.start.fill_(5.0)
    em = 3 * torch.randn(200, 6, len(LABELS))
    lengths = torch.randint(1, 7, (200,))
    mask = torch.arange(6)[None] < lengths[:, None]
    best = crf.decode(em, mask)
    for b, n in enumerate(lengths.tolist()):
        assert tagschemes.is_valid([LABELS[i] for i in best[b, :n].tolist()], "bioes")
    illegal = torch.tensor([[2]])  # I-A cannot start a sentence
    assert crf.log_likelihood(em[:1, :1], illegal, mask[:1, :1]).item() == float("-inf")


def test_gradients_are_finite_with_constraints():
    crf = _random_crf(len(LABELS), True)
    em = torch.randn(3, 5, len(LABELS), requires_grad=True)
    tags = torch.tensor([[0, 2, 1, 3, 4]] * 3)
    mask = torch.ones(3, 5, dtype=torch.bool)
    (-crf.log_likelihood(em, tags, mask).sum()).backward()
    assert all(torch.isfinite(p.grad).all() for p in (em, crf.trans, crf.start, crf.end))
    assert crf.trans.grad[~crf.trans_ok].abs().max() == 0
