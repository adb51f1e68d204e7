"""Lower bounds on the number of packs (bin packing), for the packing report and packer.

`ceil(total / pack_size)` (L1) ignores that a pack holds a whole number of sequences. When
sequences are around pack_size / 4.4 long, most packs hold 4 and a pack of 5 needs five
short ones, so no packing gets near L1. `cardinality_bound` is the certified bound that sees
this, from a family of dual feasible functions: for an integer k >= 1 and a slope s >= 1/C

    f(x) = min(1/k, 1/(k+1) + s * (x - C/(k+1)))

is concave and nondecreasing, so any pack of m sequences with total <= C has
sum f(x_i) <= m * f(C/m) <= 1 (m <= k: m/k <= 1; m = k+1: exactly 1; m >= k+2: s*C >= 1 gives
f(C/m) <= 1/m). Summing over packs, every packing has at least sum_i f(x_i) packs. For each k
the sum is concave and piecewise linear in s, so its maximum is at s = 1/C (which is L1) or at
a breakpoint where the kink x* = C/(k+1) + (1/k - 1/(k+1)) / s lands on a sequence length;
all of them are evaluated, O(distinct lengths) per k.

f is an optimal dual of the Gilmore-Gomory configuration LP whenever the LP optimum uses
k-packs of the longer sequences (> x*) and exactly full (k+1)-packs of the shorter ones (< x*),
which is the shape of a unimodal length distribution around C/(k + 1/2). On the 200k-record
bench (normal-like, 925 +- 114 tokens at 4096) it equals the LP bound found by column
generation to 1e-9 (45,757.06 -> 45,758 packs, 1.0131 x L1).

Every k is tried, so the same holds at 7-8 a pack: lengths of 548 +- 12 at 4096 (all between
C/8 and C/7) need 1.067 x L1, and the bound (k=7) says so. Wider distributions need no such
correction: the pipeline's real customer-support output (523 +- 55 tokens) mixes 7, 8 and 9
sequences in exactly full packs, its configuration LP equals L1 (510.99 for 4000 records,
25,555.40 for 200k resampled; `bench/bench_pack.py --lp-bound`), and the bound is L1 (k = 0).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

_EPS = 1e-7  # float slack before the ceiling: errs low, so the bound stays a bound


@dataclass(frozen=True)
class CardinalityBound:
    """`bound`: certified minimum number of packs (>= L1); `value`: the fractional bound.
    `k`, `kink`, `slope`: the maximizing dual function (k = 0 when L1 is best, kink = 0)."""

    bound: int
    value: float
    k: int = 0
    kink: float = 0.0
    slope: float = 0.0


def length_histogram(lengths: Sequence[int] | np.ndarray,
                     pack_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Distinct lengths in (0, pack_size] (ascending) and their counts."""
    a = np.asarray(lengths, dtype=np.int64)
    a = a[(a > 0) & (a <= pack_size)]
    w, d = np.unique(a, return_counts=True)
    return w, d.astype(np.int64)


def cardinality_bound(lengths: Sequence[int] | np.ndarray, pack_size: int) -> CardinalityBound:
    """The best bound of the dual-function family above (and never below L1); sequences
    outside (0, pack_size] are ignored, as the packers ignore them."""
    w, d = length_histogram(lengths, pack_size)
    cap = int(pack_size)
    if not len(w):
        return CardinalityBound(0, 0.0)
    total = int(w @ d)
    l1 = math.ceil(total / cap)
    best = CardinalityBound(l1, total / cap)
    wf = w.astype(np.float64)
    df = d.astype(np.float64)
    n = float(df.sum())
    pre_d = np.concatenate([[0.0], np.cumsum(df)])  # counts of lengths below index j
    pre_dw = np.concatenate([[0.0], np.cumsum(df * wf)])
    for k in range(max(1, cap // int(w[-1])), cap // int(w[0]) + 1):
        x0 = cap / (k + 1)
        gap = 1.0 / k - 1.0 / (k + 1)
        j = np.flatnonzero(wf > x0)  # a kink at w[j]: lengths >= w[j] are worth 1/k
        if not len(j):
            continue
        s = gap / (wf[j] - x0)
        keep = s >= 1.0 / cap
        j, s = j[keep], s[keep]
        if not len(j):
            continue
        below_d, below_dw = pre_d[j], pre_dw[j]
        val = (n - below_d) / k + below_d / (k + 1) + s * (below_dw - x0 * below_d)
        i = int(np.argmax(val))
        v = float(val[i])
        if v > best.value:
            best = CardinalityBound(max(l1, math.ceil(v - _EPS)), v, k, float(wf[j[i]]),
                                    float(s[i]))
    return best


def martello_toth_l2(lengths: Sequence[int] | np.ndarray, pack_size: int) -> int:
    """Martello-Toth L2: sequences longer than pack_size/2 need a pack each, and those of
    length >= K that are not longer than pack_size/2 can only use the room the long ones
    leave (those longer than pack_size - K leave none usable). Max over K, O(distinct).
    Strong when many sequences are over half a pack; equals L1 when none are."""
    w, d = length_histogram(lengths, pack_size)
    if not len(w):
        return 0
    cap = int(pack_size)
    pre_d = np.concatenate([[0], np.cumsum(d)])
    pre_s = np.concatenate([[0], np.cumsum(d * w)])
    h = int(np.searchsorted(w, cap // 2, "right"))  # first length > cap/2
    ks = np.concatenate([[0], w[:h]])
    i3 = np.searchsorted(w, ks, "left")  # first length >= K
    i1 = np.searchsorted(w, cap - ks, "right")  # first length > cap - K
    n2 = pre_d[i1] - pre_d[h]
    room = n2 * cap - (pre_s[i1] - pre_s[h])
    rest = (pre_s[h] - pre_s[i3]) - room
    vals = (pre_d[-1] - pre_d[h]) + np.maximum(0, -(-rest // cap))
    return int(vals.max())


def tight_lower_bound(lengths: Sequence[int] | np.ndarray, pack_size: int) -> int:
    """The best certified bound here: max(L1, Martello-Toth L2, cardinality bound)."""
    return max(martello_toth_l2(lengths, pack_size),
               cardinality_bound(lengths, pack_size).bound)
