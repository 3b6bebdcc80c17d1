"""Consensus on a submission's quality, from validators' votes (seed 001, hardened).

Seed 001's rule: a submission reaches consensus with at least 2 votes and a score
standard deviation under 15; its score is the mean; confidence =
0.4 * min(n/10, 1) + 0.6 * max(1 - sd/50, 0).

Beyond the seed (in the manner of Bittensor's Yuma consensus): votes are weighted by the
validators' stakes, and each vote is first clipped down to the stake-weighted median, so
a minority voting high cannot lift a friend's score: their votes count as the median.
The standard deviation and the mean are taken over the clipped votes.

Everything is exact integer arithmetic (fractions, integer square roots), so every node
and every replay computes the same figures; results are recorded in events anyway.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from math import isqrt

MIN_VOTES = 2
MAX_SD = 15  # points
SCALE = 1_000  # scores, sd and confidence are stored in thousandths


@dataclass(frozen=True, slots=True)
class Vote:
    validator: str
    score: int  # 0..100
    weight: int  # the validator's stake, > 0


@dataclass(frozen=True, slots=True)
class Consensus:
    reached: bool
    votes: int
    median: int  # stake-weighted median of the raw scores, 0..100
    score_milli: int  # weighted mean of the clipped scores, in thousandths of a point
    sd_milli: int  # weighted standard deviation of the clipped scores, thousandths
    confidence_milli: int  # 0..1000

    @property
    def score(self) -> float:
        return self.score_milli / SCALE


def weighted_median(votes: list[Vote]) -> int:
    """The lowest score at which at least half the stake is at or below it."""
    ordered = sorted(votes, key=lambda v: v.score)
    total = sum(v.weight for v in ordered)
    running = 0
    for vote in ordered:
        running += vote.weight
        if 2 * running >= total:
            return vote.score
    raise AssertionError("unreachable: weights are positive")


def decide(votes: list[Vote]) -> Consensus:
    assert all(0 <= v.score <= 100 and v.weight > 0 for v in votes)
    if not votes:
        return Consensus(False, 0, 0, 0, 0, 0)
    median = weighted_median(votes)
    clipped = [(min(v.score, median), v.weight) for v in votes]
    total = sum(w for _, w in clipped)
    mean = Fraction(sum(s * w for s, w in clipped), total)
    variance = sum((Fraction(s) - mean) ** 2 * w for s, w in clipped) / total
    sd_milli = isqrt(int(variance * SCALE * SCALE))
    n = len(votes)
    count_factor = Fraction(min(n, 10), 10)
    spread_factor = max(Fraction(1) - Fraction(sd_milli, 50 * SCALE), Fraction(0))
    confidence = Fraction(4, 10) * count_factor + Fraction(6, 10) * spread_factor
    return Consensus(
        reached=n >= MIN_VOTES and sd_milli < MAX_SD * SCALE,
        votes=n,
        median=median,
        score_milli=int(mean * SCALE),
        sd_milli=sd_milli,
        confidence_milli=int(confidence * SCALE),
    )
