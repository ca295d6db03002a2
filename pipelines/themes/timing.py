"""Wall seconds per step of an analysis, so a profile can say which step costs what."""

from __future__ import annotations

import time
from collections.abc import Callable


class StepClock:
    """Laps of a wall clock, each added to ``laps`` under the step's name (a step named twice
    adds up); ``on_lap``, if given, is told each step's name as it ends."""

    def __init__(self, on_lap: Callable[[str], None] | None = None) -> None:
        self.laps: dict[str, float] = {}
        self._last = time.perf_counter()
        self._on_lap = on_lap

    def lap(self, step: str) -> float:
        """Seconds since the previous lap (or the start), added to ``laps[step]``."""
        now = time.perf_counter()
        spent = now - self._last
        self._last = now
        self.laps[step] = self.laps.get(step, 0.0) + spent
        if self._on_lap is not None:
            self._on_lap(step)
        return spent
