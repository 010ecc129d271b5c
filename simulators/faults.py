"""The one schedule of the simulators' occasional faults: a fault that starts `at` and then holds
for `length` out of every `every`, on whatever clock the simulator keeps (seconds since it
started for a rig or a pool, epochs since genesis for a beacon chain).

    overheat = FaultCycle.parse("600:240:30")  # EVERY:FOR[:AT]
    overheat.active(100.0)  # True: 70 s into the first window
    overheat.active(400.0)  # False: the card has cooled until 630 s

A fault is deterministic, so a test can say when it holds, and off unless a simulator is given
one (the demo switches them on); nothing here is random. Deliberately independent of Django and
of the ethdash code, like every simulator.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass


@dataclass(frozen=True)
class FaultCycle:
    every: float
    length: float
    at: float = 0.0

    def __post_init__(self):
        if not 0 < self.length < self.every or self.at < 0:
            raise ValueError(f"a fault needs 0 < FOR < EVERY and AT >= 0, got {self}")

    def active(self, t: float) -> bool:
        """Whether the fault holds at `t` on the simulator's clock (never before `at`)."""
        return t >= self.at and (t - self.at) % self.every < self.length

    def windows(self, start: int, end: int) -> list[int]:
        """The whole points in [start, end) at which the fault holds (for a clock that counts
        epochs); one short loop per window, so a long run costs its windows, not its epochs."""
        points = []
        first = self.at + max(0, int((start - self.at) // self.every)) * self.every
        window = first
        while window < end:
            lo, hi = max(start, window), min(end, window + self.length)
            points.extend(range(math.ceil(lo), math.ceil(hi)))
            window += self.every
        return points

    @classmethod
    def parse(cls, text: str) -> FaultCycle:
        """EVERY:FOR[:AT], e.g. "600:240:30"; raises argparse.ArgumentTypeError when wrong, so
        it serves as an argparse `type`."""
        parts = text.split(":")
        try:
            if len(parts) not in (2, 3):
                raise ValueError("expected EVERY:FOR[:AT]")
            return cls(*(float(part) for part in parts))
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"{text!r}: {exc}") from None
