"""Wall seconds per step of an analysis, so a profile can say which step costs what."""

from __future__ import annotations

import time


class StepClock:
    """Laps of a wall clock, each added to ``laps`` under the step's name (a step named twice
    adds up)."""

    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, step: str) -> float:
        """Seconds since the previous lap (or the start), added to ``laps[step]``."""
        now = time.perf_counter()
        spent = now - self._last
        self._last = now
        self.laps[step] = self.laps.get(step, 0.0) + spent
        return spent
