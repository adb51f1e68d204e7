"""Bin packing of sequence lengths into fixed-size packs.

Both algorithms return packs as lists of indices into `lengths`; every index with
0 < length <= pack_size is placed exactly once, others are ignored (callers handle them).
"""

from __future__ import annotations

import math
import random
from bisect import bisect_left, insort
from collections.abc import Sequence


def best_fit_decreasing(lengths: Sequence[int], pack_size: int) -> list[list[int]]:
    """Longest first, each into the fullest pack it fits (O(n log n)).

    Open packs are bucketed by remaining capacity; a sorted list of the distinct capacities
    present (at most pack_size entries) is searched with bisect for the smallest that fits.
    """
    lens = [int(x) for x in lengths]
    order = sorted((i for i, n in enumerate(lens) if 0 < n <= pack_size),
                   key=lens.__getitem__, reverse=True)
    caps: list[int] = []  # sorted distinct remaining capacities of open packs
    buckets: dict[int, list[int]] = {}
    packs: list[list[int]] = []
    for i in order:
        n = lens[i]
        j = bisect_left(caps, n)
        if j < len(caps):
            c = caps[j]
            lst = buckets[c]
            p = lst.pop()
            if not lst:
                del buckets[c]
                del caps[j]
            packs[p].append(i)
            rem = c - n
        else:
            p = len(packs)
            packs.append([i])
            rem = pack_size - n
        if rem > 0:
            lst = buckets.get(rem)
            if lst is None:
                buckets[rem] = [p]
                insort(caps, rem)
            else:
                lst.append(p)
    return packs


def first_fit_shuffle(lengths: Sequence[int], pack_size: int, seed: int = 0) -> list[list[int]]:
    """Shuffle, then first fit: each sequence into the earliest pack with room (O(n log n)).

    A max segment tree over pack capacities finds the leftmost pack that fits; unopened packs
    sit to the right with full capacity, so a new pack opens when no open one fits.
    """
    lens = [int(x) for x in lengths]
    order = [i for i, n in enumerate(lens) if 0 < n <= pack_size]
    random.Random(seed).shuffle(order)
    if not order:
        return []
    size = 1 << max(0, math.ceil(math.log2(len(order))))
    tree = [pack_size] * (2 * size)
    packs: list[list[int]] = []
    for i in order:
        n = lens[i]
        node = 1
        while node < size:
            node = 2 * node if tree[2 * node] >= n else 2 * node + 1
        p = node - size
        if p == len(packs):
            packs.append([i])
        else:
            packs[p].append(i)
        tree[node] -= n
        node >>= 1
        while node:
            a, b = tree[2 * node], tree[2 * node + 1]
            v = a if a > b else b
            if tree[node] == v:
                break
            tree[node] = v
            node >>= 1
    return packs


def pack_sequences(lengths: Sequence[int], pack_size: int, algorithm: str = "best_fit_decreasing",
                   seed: int = 0) -> list[list[int]]:
    if algorithm == "best_fit_decreasing":
        return best_fit_decreasing(lengths, pack_size)
    if algorithm == "first_fit_shuffle":
        return first_fit_shuffle(lengths, pack_size, seed)
    raise ValueError(f"unknown packing algorithm {algorithm!r}")
