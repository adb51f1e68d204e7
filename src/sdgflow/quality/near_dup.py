"""Near-duplicate conversations: MinHash over word shingles, LSH bands, a compact index.

datasketch computes each row's MinHash (its `affine32` scheme, one set of permutations for the
run) and chooses the LSH's bands and rows for the threshold (`_optimal_param`, weighted toward
recall: a missed near-duplicate costs more here than a candidate checked for nothing). Its own
index, `MinHashLSH`, keeps a dict of sets per band: ~3.6 KB a row measured at 128 permutations,
3.6 GB at 1M rows. This index keeps each band key's first row in SQLite on disk
(quality.table.FirstRowTable, which the exact duplicate check uses too) and, in memory, a 2-bit
sketch of each row's MinHash values (32 bytes a row at 128 permutations), which checks a
candidate's Jaccard estimate (and so also discards 32-bit key collisions).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from sdgflow.quality.table import FirstRowTable, RecordIds

# Multipliers that fold a band's r values into one key (odd 64-bit constants: a product sum
# mod 2^64 of distinct bands collides with probability ~2^-32 once folded to 32 bits).
_FOLD = np.random.default_rng(0x5EED).integers(1, 2**63, size=1024, dtype=np.uint64) | 1
_CHUNK_ROWS = 1 << 12  # rows per block of sketches (128 KiB at 128 permutations)
_SKETCH_BITS = 2
# Estimated Jaccard from the sketch a candidate needs: the threshold less this slack (the
# estimate's standard deviation is ~0.04 at 128 permutations near 0.8; 4 bits gave 0.037 for
# twice the memory).
_SLACK = 0.05


@dataclass(slots=True)
class Probe:
    """One row's MinHash values, band keys, which keys the index holds and their rows."""

    signature: np.ndarray
    keys: np.ndarray
    known: np.ndarray
    candidates: set[int]


class NearDuplicateIndex:
    """Rows added so far, queried for the earliest one whose estimated Jaccard similarity with
    a new row's shingles is at least about `threshold`."""

    def __init__(self, threshold: float = 0.8, num_perm: int = 128, shingle_words: int = 3,
                 seed: int = 1) -> None:
        from datasketch import MinHash
        from datasketch.lsh import _optimal_param

        self.threshold = threshold
        self.num_perm = num_perm
        self.shingle_words = shingle_words
        self.bands, self.rows = _optimal_param(threshold, num_perm, 0.2, 0.8)
        self._minhash = MinHash
        self._permutations = MinHash(num_perm=num_perm, seed=seed).permutations
        self._band_salt = (np.arange(self.bands, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15))
        self._bands = FirstRowTable()  # band key -> the first row that had it
        self._sketches: list[np.ndarray] = []
        self._ids = RecordIds()
        self._tokens: dict[str, int] = {}

    # -- rows ------------------------------------------------------------------------------

    def probe(self, words: list[str]) -> Probe | None:
        """A row's signature and what the index holds of its band keys (None: no words)."""
        if not words:
            return None
        signature = self._signature(words)
        keys = self._keys(signature)
        known, candidates = self._bands.get_many(keys)
        return Probe(signature, keys, known, candidates)

    def match(self, probe: Probe) -> tuple[Any, float] | None:
        """(record id, estimated Jaccard) of the earliest added row resembling the probed one."""
        if not probe.candidates:
            return None
        sketch = self._sketch(probe.signature)
        cut = self.threshold - _SLACK
        for row in sorted(probe.candidates):
            estimate = self._estimate(sketch, row)
            if estimate >= cut:
                return self._ids[row], estimate
        return None

    def add(self, probe: Probe, record_id: Any) -> None:
        """Index the probed row (call before probing another)."""
        row = self._ids.add(record_id)
        if row % _CHUNK_ROWS == 0:
            self._sketches.append(np.zeros((_CHUNK_ROWS, self.num_perm * _SKETCH_BITS // 8),
                                           dtype=np.uint8))
        self._sketches[-1][row % _CHUNK_ROWS] = self._sketch(probe.signature)
        # A key already indexed keeps its first row: matches name the earliest record.
        self._bands.add(probe.keys[~probe.known].tolist(), row)

    def _signature(self, words: list[str]) -> np.ndarray:
        """The MinHash values of the shingles of `shingle_words` consecutive words."""
        cache = self._tokens
        if len(cache) > 200_000:  # a vocabulary cache, emptied so memory stays flat
            cache.clear()
        hashes = np.fromiter((cache.get(w) or cache.setdefault(w, zlib.crc32(w.encode()))
                              for w in words), dtype=np.uint32, count=len(words))
        k = min(self.shingle_words, len(hashes))
        count = len(hashes) - k + 1
        shingles = hashes[:count].copy()
        for j in range(1, k):  # an order-dependent mix of k consecutive word hashes
            shingles = shingles * np.uint32(0x01000193) ^ hashes[j:count + j]
        minhash = self._minhash(num_perm=self.num_perm, permutations=self._permutations,
                                scheme="affine32", hashfunc=int)
        minhash.update_batch(np.unique(shingles).tolist())
        return minhash.hashvalues

    def _keys(self, signature: np.ndarray) -> np.ndarray:
        bands = signature[:self.bands * self.rows].astype(np.uint64).reshape(self.bands,
                                                                              self.rows)
        folded = (bands * _FOLD[:self.rows]).sum(axis=1, dtype=np.uint64) ^ self._band_salt
        return ((folded >> np.uint64(32)) ^ (folded & np.uint64(0xFFFFFFFF))).astype(np.uint32)

    # -- sketches ----------------------------------------------------------------------------

    def _sketch(self, signature: np.ndarray) -> np.ndarray:
        """The low 2 bits of each MinHash value, four to a byte."""
        low = (signature & 3).astype(np.uint8)
        return (low[0::4] << 6) | (low[1::4] << 4) | (low[2::4] << 2) | low[3::4]

    def _estimate(self, sketch: np.ndarray, row: int) -> float:
        other = self._sketches[row // _CHUNK_ROWS][row % _CHUNK_ROWS]
        differ = sketch ^ other
        equal = sum(int(np.count_nonzero((differ >> shift) & 3 == 0)) for shift in (0, 2, 4, 6))
        # b-bit MinHash (Li & Koenig): P(equal low bits) = J + (1 - J) / 2^b.
        chance = 1 / (1 << _SKETCH_BITS)
        return max(0.0, (equal / self.num_perm - chance) / (1 - chance))

    def nbytes(self) -> int:
        """Bytes of sketches held in memory (band keys live in the table's SQLite file)."""
        return sum(s.nbytes for s in self._sketches)

    def close(self) -> None:
        self._bands.close()
