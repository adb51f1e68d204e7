"""Bin packing: validity (property tests), optimality on a known distribution."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sdgflow.pack.packer import best_fit_decreasing, first_fit_shuffle, pack_sequences

ALGOS = ["best_fit_decreasing", "first_fit_shuffle"]


@pytest.mark.parametrize("algorithm", ALGOS)
@settings(max_examples=200, deadline=None)
@given(cap=st.integers(1, 300), lengths=st.lists(st.integers(0, 400), max_size=200),
       seed=st.integers(0, 5))
def test_never_overflows_and_places_each_sequence_once(algorithm, cap, lengths, seed):
    packs = pack_sequences(lengths, cap, algorithm, seed)
    placed = sorted(i for p in packs for i in p)
    assert placed == [i for i, n in enumerate(lengths) if 0 < n <= cap]
    assert all(p and sum(lengths[i] for i in p) <= cap for p in packs)
    total = sum(lengths[i] for i in placed)
    assert len(packs) >= math.ceil(total / cap)


def test_bfd_is_optimal_on_known_distribution():
    # every item > 50 needs its own pack and each has an exact complement: the optimum is
    # exactly 3k full packs (efficiency 1.0)
    k = 500
    lengths = [70, 30] * k + [60, 40] * k + [55, 45] * k
    random.Random(0).shuffle(lengths)
    packs = best_fit_decreasing(lengths, 100)
    assert len(packs) == 3 * k
    assert all(sum(lengths[i] for i in p) == 100 for p in packs)


def test_bfd_efficiency_on_uniform_small_items():
    r = random.Random(1)
    lengths = [r.randint(1, 400) for _ in range(20_000)]
    packs = best_fit_decreasing(lengths, 4096)
    lower = math.ceil(sum(lengths) / 4096)
    assert len(packs) <= lower + 1  # small items: BFD reaches the lower bound


def test_first_fit_shuffle_is_seeded_and_reasonable():
    r = random.Random(2)
    lengths = [r.randint(100, 1500) for _ in range(5000)]
    a = first_fit_shuffle(lengths, 4096, seed=3)
    assert a == first_fit_shuffle(lengths, 4096, seed=3)
    lower = math.ceil(sum(lengths) / 4096)
    assert len(a) <= 1.2 * lower
    assert len(best_fit_decreasing(lengths, 4096)) <= len(a)


def test_unknown_algorithm():
    with pytest.raises(ValueError):
        pack_sequences([1], 10, "worst_fit")
