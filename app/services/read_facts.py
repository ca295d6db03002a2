"""What the theme and trend endpoints count, held in memory per analysis.

A finished analysis's assignments and themes change only when new narratives are placed into
it or stories are withdrawn, and the narratives' filter columns (attributes, session, upload,
time) never change once stored. So the first read of an analysis loads its themes and, for each
narrative it holds, its theme, sub-theme, session, upload, time and attributes into arrays;
every later read filters and counts them with numpy instead of a GROUP BY over joins (a filter
is a boolean mask, a count per theme one `np.unique`) and reads the themes from memory. A
read compares the analysis row's `revision` and counts (which the placement and withdrawal
change) with those the facts were loaded at, and loads them again when they differ. Whatever
changes a finished analysis's assignments or themes raises its revision.

The counts equal the SQL of `narratives.filtered` over the stored assignments; the tests hold
them to it.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TypeVar, cast

import numpy as np
from sqlalchemy import Connection, Engine, select
from sqlalchemy.orm import Session

from app.services.narratives import NarrativeFilter
from models import (
    Analysis,
    Narrative,
    NarrativeAttribute,
    Theme,
    ThemeAssignment,
    ThemeMembership,
)
from pipelines.trends import Period, period_key

_T = TypeVar("_T")

#: A row's missing value (no theme, no session, no time, no such attribute).
NONE = -1
#: Analyses kept per database.
KEPT = 8

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_NO_TIME = np.iinfo(np.int64).min


def micros(moment: datetime) -> int:
    """Microseconds since the epoch, UTC (a naive time is UTC, as the filters read it)."""
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return (moment - _EPOCH) // _MICROSECOND


@dataclass(frozen=True)
class Codes:
    """One column as small integers: `codes[i]` indexes `values`, or is NONE."""

    codes: np.ndarray
    values: tuple[str, ...]

    def matching(self, value: str) -> np.ndarray:
        if value not in self.values:
            return np.zeros(len(self.codes), dtype=bool)
        found: np.ndarray = self.codes == self.values.index(value)
        return found


def _codes(raw: Sequence[str | None]) -> Codes:
    values = tuple(sorted({v for v in raw if v is not None}))
    index = {v: i for i, v in enumerate(values)}
    codes = np.fromiter((NONE if v is None else index[v] for v in raw), np.int32, len(raw))
    return Codes(codes, values)


@dataclass
class Facts:
    """One analysis's narratives, in narrative id order, with what the filters and counts read."""

    signature: tuple[object, ...]
    ids: np.ndarray
    theme: np.ndarray
    subtheme: np.ndarray
    session: np.ndarray
    source: np.ndarray
    occurred: np.ndarray
    attributes: dict[str, Codes]
    #: every theme of the analysis, detached from any session: read them, never change them
    themes: tuple[Theme, ...] = ()
    _periods: dict[Period, Codes] = field(default_factory=dict)
    _sessions: Codes | None = None
    _members: tuple[np.ndarray, np.ndarray] | None = None
    _derived: dict[object, object] = field(default_factory=dict)
    # reentrant: what one loader derives may rest on another's
    _lock: threading.RLock = field(default_factory=threading.RLock)

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def leaf(self) -> np.ndarray:
        """The sub-theme where the narrative has one, else its theme."""
        return np.where(self.subtheme != NONE, self.subtheme, self.theme)

    def mask(self, flt: NarrativeFilter) -> np.ndarray | None:
        """The rows that pass the filter; None when it filters nothing."""
        keep: np.ndarray | None = None

        def narrow(rows: np.ndarray) -> None:
            nonlocal keep
            keep = rows if keep is None else keep & rows

        for key, value in flt.attributes:
            column = self.attributes.get(key)
            narrow(column.matching(value) if column else np.zeros(len(self), dtype=bool))
        if flt.source_id is not None:
            narrow(self.source == flt.source_id)
        if flt.session_id is not None:
            narrow(self.session == flt.session_id)
        has_time = self.occurred != _NO_TIME
        if flt.since is not None:
            narrow(has_time & (self.occurred >= micros(flt.since)))
        if flt.until is not None:
            narrow(has_time & (self.occurred < micros(flt.until)))
        return keep

    def sessions(self) -> Codes:
        """Each narrative's session id as a code (the ids as text, in id order)."""
        with self._lock:
            if self._sessions is None:
                values, inverse = np.unique(self.session, return_inverse=True)
                codes = inverse.reshape(-1).astype(np.int32)
                labels = tuple(str(v) for v in values)
                if len(values) and values[0] == NONE:
                    # the missing value sorts first
                    codes -= 1
                    labels = labels[1:]
                self._sessions = Codes(codes, labels)
            return self._sessions

    def period(self, period: Period) -> Codes:
        """Each narrative's period key (`pipelines.trends.period_key`), UTC."""
        with self._lock:
            found = self._periods.get(period)
            if found is None:
                found = self._periods[period] = self._period_codes(period)
            return found

    def _period_codes(self, period: Period) -> Codes:
        has_time = self.occurred != _NO_TIME
        unit = "D" if period == "week" else "M"
        stamps = self.occurred[has_time].astype("datetime64[us]").astype(f"datetime64[{unit}]")
        days, inverse = np.unique(stamps, return_inverse=True)
        keys = [period_key(_first_day(d), period) for d in days.astype(object)]
        values = tuple(sorted(set(keys)))
        index = np.array([values.index(k) for k in keys], dtype=np.int32)
        codes = np.full(len(self), NONE, dtype=np.int32)
        codes[has_time] = index[inverse.reshape(-1)] if len(index) else NONE
        return Codes(codes, values)

    def memberships(self, session: Session, analysis: Analysis) -> tuple[np.ndarray, np.ndarray]:
        """(row, theme id) of every soft membership, loaded on first need."""
        with self._lock:
            if self._members is None:
                pairs = session.execute(
                    select(ThemeMembership.narrative_id, ThemeMembership.theme_id).where(
                        ThemeMembership.analysis_id == analysis.id
                    )
                ).all()
                narratives = np.fromiter((p[0] for p in pairs), np.int64, len(pairs))
                themes = np.fromiter((p[1] for p in pairs), np.int64, len(pairs))
                rows = np.searchsorted(self.ids, narratives)
                inside = (rows < len(self.ids)) & (
                    self.ids[np.minimum(rows, len(self.ids) - 1)] == narratives
                )
                self._members = (rows[inside], themes[inside])
            return self._members

    def exemplar_texts(self, session: Session) -> dict[int, str]:
        """Narrative id -> text of every exemplar of the analysis's themes, loaded on first
        need (a withdrawn exemplar leaves its theme's list and raises the revision)."""

        def load() -> dict[int, str]:
            ids = sorted({i for t in self.themes for i in t.exemplars if isinstance(i, int)})
            quoted: dict[int, str] = {}
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                quoted.update(
                    (i, text)
                    for i, text in session.execute(
                        select(Narrative.id, Narrative.text).where(Narrative.id.in_(chunk))
                    )
                )
            return quoted

        return self.derived("exemplar texts", load)

    def derived(self, key: object, make: Callable[[], _T]) -> _T:
        """`make()`, computed once for these facts (by one reader while others wait) and kept
        as long as they are: for what every read of the analysis derives alike, whatever its
        filter."""
        with self._lock:
            if key not in self._derived:
                self._derived[key] = make()
            return cast(_T, self._derived[key])


def _first_day(value: object) -> date:
    assert isinstance(value, date)
    return value


def counts(values: np.ndarray, rows: np.ndarray | None) -> dict[int | None, int]:
    """How many of `rows` (a mask, or None for all) hold each value; NONE is counted as None."""
    picked = values if rows is None else values[rows]
    found, n = np.unique(picked, return_counts=True)
    return {(None if v == NONE else int(v)): int(k) for v, k in zip(found, n, strict=True)}


def signature(analysis: Analysis) -> tuple[object, ...]:
    """What changes whenever the analysis's assignments do (the previous release raises no
    revision, but changes the counts)."""
    return (
        analysis.id,
        analysis.project_id,
        analysis.finished_at,
        analysis.revision,
        analysis.narrative_count,
        analysis.incremental_count,
        analysis.incremental_unassigned,
    )


def load(connection: Connection, analysis_id: int) -> Facts:
    """Read one analysis's facts over `connection` (the reading request's own, so a load
    never waits for a second connection while the requests queued behind it hold the rest
    of the pool), in a session of their own: the themes are kept detached, so that any
    request may read them."""
    with Session(bind=connection) as session:
        analysis = session.get_one(Analysis, analysis_id)
        themes = tuple(session.scalars(select(Theme).where(Theme.analysis_id == analysis_id)))
        return _load(session, analysis, themes)


def _load(session: Session, analysis: Analysis, themes: tuple[Theme, ...]) -> Facts:
    rows = session.execute(
        select(
            ThemeAssignment.narrative_id,
            ThemeAssignment.theme_id,
            ThemeAssignment.subtheme_id,
            Narrative.session_id,
            Narrative.source_id,
            Narrative.occurred_at,
        )
        .join(Narrative, Narrative.id == ThemeAssignment.narrative_id)
        .where(ThemeAssignment.analysis_id == analysis.id)
        .order_by(ThemeAssignment.narrative_id)
    ).all()
    n = len(rows)

    def column(i: int) -> np.ndarray:
        return np.fromiter((NONE if r[i] is None else r[i] for r in rows), np.int64, n)

    ids = column(0)
    occurred = np.fromiter((_NO_TIME if r[5] is None else micros(r[5]) for r in rows), np.int64, n)
    by_key: dict[str, list[str | None]] = {}
    for narrative_id, key, value in session.execute(
        select(NarrativeAttribute.narrative_id, NarrativeAttribute.key, NarrativeAttribute.value)
        .join(
            ThemeAssignment,
            (ThemeAssignment.narrative_id == NarrativeAttribute.narrative_id)
            & (ThemeAssignment.analysis_id == analysis.id),
        )
        .where(NarrativeAttribute.project_id == analysis.project_id)
    ):
        row = int(np.searchsorted(ids, narrative_id))
        by_key.setdefault(key, [None] * n)[row] = value
    return Facts(
        signature=signature(analysis),
        ids=ids,
        theme=column(1),
        subtheme=column(2),
        session=column(3),
        source=column(4),
        occurred=occurred,
        attributes={key: _codes(values) for key, values in by_key.items()},
        themes=themes,
    )


class _Kept:
    """The facts of one database's most recently read analyses."""

    def __init__(self) -> None:
        self.facts: OrderedDict[int, Facts] = OrderedDict()
        self.lock = threading.Lock()
        self.loading: dict[int, threading.Lock] = {}


_kept: weakref.WeakKeyDictionary[Engine, _Kept] = weakref.WeakKeyDictionary()
_kept_lock = threading.Lock()


def _engine(session: Session) -> Engine:
    bind = session.get_bind()
    return bind if isinstance(bind, Engine) else bind.engine


def facts(session: Session, analysis: Analysis) -> Facts:
    """The analysis's facts, from memory while its signature holds; one reader loads them
    while others wait."""
    with _kept_lock:
        kept = _kept.setdefault(_engine(session), _Kept())
    wanted = signature(analysis)
    with kept.lock:
        found = kept.facts.get(analysis.id)
        if found is not None and found.signature == wanted:
            kept.facts.move_to_end(analysis.id)
            return found
        loading = kept.loading.setdefault(analysis.id, threading.Lock())
    with loading:
        with kept.lock:
            found = kept.facts.get(analysis.id)
            if found is not None and found.signature == wanted:
                return found
        fresh = load(session.connection(), analysis.id)
        with kept.lock:
            kept.facts[analysis.id] = fresh
            kept.facts.move_to_end(analysis.id)
            while len(kept.facts) > KEPT:
                kept.facts.popitem(last=False)
        return fresh
