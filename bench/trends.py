"""Trends against gold labels: NHS patient-experience comments (two trusts, service types, dates).

    nice .venv/bin/python -m bench.trends [--data ../shared/data] [--out bench/results/trends.json]
                                          [--shuffles 20] [--planted 5] [--calls 100]

Everything goes through the service (``create_app`` on a throwaway SQLite file, in process):
the 6,211 comments with text are posted as narratives with ``trust`` and ``service_type``
attributes and their date, an analysis is run, and the figures are read from
``GET /trends``. Embeddings come from the real all-MiniLM-L6-v2, cached under
``bench/.cache`` per data set, so re-runs do not embed again.

Each Weft theme is mapped to the gold theme that most of its members carry (a comment can
carry several). Figures:

- **prevalence by group**: for every gold theme with at least 30 comments, the NEAS minus
  NHFT share of comments carrying it, against the same difference of the summed shares of
  the Weft themes mapped to it (``by=attribute:trust``); Spearman's rho (target >= 0.8).
  Gold themes no Weft theme maps to count as a Weft difference of 0; rho over the mapped
  ones only is reported beside it.
- **planted trend**: the 5 gold themes with the most comments in their commonest service
  type (at least 80 there; "Not assigned" and "Labelling not possible" skipped): up to 150
  of those comments, drawn at random, get dates spread uniformly over the last two months of
  the data (August-September 2022: the 35 stragglers dated after September are too few to
  make a month); all comments are posted again to a new project and analysed again. Success
  when that service type's timeline (``by=attribute:service_type&by=period:month``,
  ``until`` the end of September 2022) flags a ``rising`` (BH q <= 0.05) or ``new`` theme
  holding at least 70% of the moved comments; the share held by all flagged themes
  together is reported beside it.
- **null control**: dates shuffled among all comments 20 times (written to the store
  directly: clustering does not read dates, so re-analysing would give the same themes);
  the rising and falling themes of ``by=period:month`` and of every service type's timeline
  (same ``until``) are counted against the themes tested.
- **speed**: 100 calls of ``GET /trends`` for several ``by`` forms on the 6,211-comment
  project and on a 20,000-narrative project (the comments repeated under new ids, dates
  and trusts kept), median and 95th percentile in milliseconds, in process (TestClient).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import spearmanr
from sqlalchemy import Engine, bindparam, create_engine, update

from bench.harness import (
    NHS_FILE,
    RESULTS_DIR,
    CachedEmbedder,
    Project,
    Service,
    kmeans_labels,
    load_nhs_rows,
    write_json,
)
from models import Narrative
from pipelines.embed import DEFAULT_MODEL_NAME

#: The name the comments' vectors are cached under in ``bench/.cache``.
CACHE_NAME = "nhs_patient_experience_v6"
FIRST_THEME_COLUMN = "Not assigned"
TRUSTS = ("NEAS", "NHFT")


# --- data -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Comments:
    ids: list[str]
    texts: list[str]
    trusts: list[str]
    services: list[str]
    dates: list[date]
    gold: list[frozenset[str]]
    theme_names: list[str]

    def __len__(self) -> int:
        return len(self.ids)


def parse_date(value: str) -> date:
    """dd/mm/yyyy mostly; a few rows are m/dd/yyyy (the second field over 12 gives them away)."""
    first, second, year = (int(part) for part in value.strip().split("/"))
    if second > 12:
        first, second = second, first
    return date(year, second, first)


def load_comments(root: str | None, limit: int | None = None) -> Comments:
    columns, rows = load_nhs_rows(root)
    themes = columns[columns.index(FIRST_THEME_COLUMN) :]
    rows = rows[:limit]
    return Comments(
        ids=[r["Comment ID"] for r in rows],
        texts=[r["FFT answer"].strip() for r in rows],
        trusts=[r["Trust"].strip() for r in rows],
        services=[" ".join(r["Service type 1"].split()) or "Unknown" for r in rows],
        dates=[parse_date(r["Date"]) for r in rows],
        gold=[frozenset(t for t in themes if r[t].strip() == "1") for r in rows],
        theme_names=themes,
    )


# --- the comments as narratives ----------------------------------------------------------


def at_noon(day: date) -> str:
    return datetime(day.year, day.month, day.day, 12, tzinfo=UTC).isoformat()


def narrative_items(
    data: Comments, dates: Sequence[date] | None = None, copies: int = 1, limit: int | None = None
) -> list[dict[str, Any]]:
    dates = dates if dates is not None else data.dates
    items = []
    for copy in range(copies):
        for i in range(len(data)):
            items.append(
                {
                    "text": data.texts[i],
                    "external_id": data.ids[i] if copy == 0 else f"{data.ids[i]}-r{copy}",
                    "occurred_at": at_noon(dates[i]),
                    "attributes": {"trust": data.trusts[i], "service_type": data.services[i]},
                }
            )
    return items[:limit] if limit is not None else items


# --- figures --------------------------------------------------------------------------------


def map_themes(data: Comments, assigned: Mapping[str, str | None]) -> dict[str, str]:
    """Weft theme key -> the gold theme most of its members carry."""
    carried: dict[str, Counter[str]] = {}
    for cid, gold in zip(data.ids, data.gold, strict=True):
        key = assigned.get(cid)
        if key is not None:
            carried.setdefault(key, Counter()).update(gold)
    return {key: counts.most_common(1)[0][0] for key, counts in carried.items() if counts}


def prevalence(
    data: Comments, project: Project, mapping: dict[str, str], level: str = "top"
) -> dict[str, Any]:
    body = project.get("/trends", by="attribute:trust", level=level)
    column = {cell["key"][0]: j for j, cell in enumerate(body["cells"])}
    weft_diff: dict[str, float] = {}
    for theme in body["themes"]:
        gold = mapping.get(theme["key"])
        if gold is None:
            continue
        a, b = (theme["cells"][column[t]]["share"] or 0.0 for t in TRUSTS)
        weft_diff[gold] = weft_diff.get(gold, 0.0) + a - b
    return score_prevalence(data, weft_diff, mapping)


def kmeans_prevalence(data: Comments, labels: np.ndarray) -> dict[str, Any]:
    """The same figure for a k-means partition of the same embeddings (the anchor): each
    cluster mapped the same way, its trust shares counted directly."""
    assigned = {cid: str(label) for cid, label in zip(data.ids, labels, strict=True)}
    mapping = map_themes(data, assigned)
    trusts = np.array(data.trusts)
    in_trust = [trusts == t for t in TRUSTS]
    weft_diff: dict[str, float] = {}
    for key, gold in mapping.items():
        member = labels == int(key)
        a, b = ((member & m).sum() / max(int(m.sum()), 1) for m in in_trust)
        weft_diff[gold] = weft_diff.get(gold, 0.0) + float(a - b)
    return score_prevalence(data, weft_diff, mapping)


def score_prevalence(
    data: Comments, weft_diff: dict[str, float], mapping: dict[str, str]
) -> dict[str, Any]:
    """Spearman between the gold trust differences and the ones read from the mapped themes."""
    size = Counter(g for gold in data.gold for g in gold)
    in_trust = {
        t: [g for g, tr in zip(data.gold, data.trusts, strict=True) if tr == t] for t in TRUSTS
    }
    rows = []
    for theme, n in sorted(size.items(), key=lambda kv: -kv[1]):
        if n < 30:
            continue
        shares = [sum(theme in g for g in in_trust[t]) / len(in_trust[t]) for t in TRUSTS]
        rows.append(
            {
                "gold_theme": theme,
                "comments": n,
                "gold_diff": round(shares[0] - shares[1], 4),
                "weft_diff": round(weft_diff.get(theme, 0.0), 4),
                "mapped_themes": sum(1 for g in mapping.values() if g == theme),
            }
        )
    rho_all = spearmanr([r["gold_diff"] for r in rows], [r["weft_diff"] for r in rows])[0]
    mapped = [r for r in rows if r["mapped_themes"]]
    rho_mapped = spearmanr([r["gold_diff"] for r in mapped], [r["weft_diff"] for r in mapped])[0]
    return {
        "themes": len(mapping),
        "gold_themes": len(rows),
        "gold_themes_mapped": len(mapped),
        "spearman": round(float(rho_all), 4),
        "spearman_mapped_only": round(float(rho_mapped), 4),
        "target": 0.8,
        "met": bool(rho_all >= 0.8),
        "rows": rows,
    }


def month_start(day: date) -> date:
    return day.replace(day=1)


def last_two_months(dates: Sequence[date]) -> tuple[date, date]:
    """First and last day of the last two calendar months of the data, counting only months
    with at least a sixtieth of the comments (about 100 here: the file ends with a few
    stragglers after September 2022, which would otherwise make a nearly empty latest month)."""
    busy = max(1, len(dates) // 60)
    per_month = Counter(month_start(d) for d in dates)
    last = max(m for m, n in per_month.items() if n >= busy)
    first = month_start(last - timedelta(days=1))
    end = month_start(last + timedelta(days=32)) - timedelta(days=1)
    return first, end


def planted_choices(data: Comments, count: int, low: int = 80) -> list[tuple[str, str, int]]:
    """(gold theme, service type, comments) for the gold themes with the most comments in
    their commonest service type, at least ``low`` there; the catch-all labels are skipped."""
    pairs: dict[str, Counter[str]] = {}
    for gold, service in zip(data.gold, data.services, strict=True):
        for theme in gold:
            pairs.setdefault(theme, Counter())[service] += 1
    skip = {"Not assigned", "Labelling not possible"}
    best = [
        (theme, *counter.most_common(1)[0])
        for theme, counter in pairs.items()
        if theme not in skip and counter.most_common(1)[0][1] >= low
    ]
    best.sort(key=lambda row: -row[2])
    return best[:count]


def largest_share(labels: np.ndarray) -> float:
    """The share of the comments the commonest label holds."""
    return round(Counter(labels.tolist()).most_common(1)[0][1] / len(labels), 4)


def planted(
    data: Comments,
    service: Service,
    count: int,
    low: int = 80,
    n_themes: int | None = None,
    cap: int = 150,
    seed: int = 0,
    anchors: dict[int, np.ndarray] | None = None,
) -> list[dict[str, Any]]:
    """``anchors``: k-means labels of every comment by k; for each, the largest share of the
    moved comments one cluster holds is reported (the ceiling a partition that coarse gives)."""
    first, end = last_two_months(data.dates)
    until = datetime.combine(end + timedelta(days=1), datetime.min.time(), UTC)
    span = (end - first).days
    results = []
    for n, (theme, stype, available) in enumerate(planted_choices(data, count, low)):
        rng = np.random.default_rng(seed + n)
        members = [
            i for i in range(len(data)) if theme in data.gold[i] and data.services[i] == stype
        ]
        moved = sorted(rng.choice(members, size=min(cap, len(members)), replace=False).tolist())
        dates = list(data.dates)
        for i in moved:
            dates[i] = first + timedelta(days=int(rng.integers(0, span + 1)))
        project = service.project(f"planted {n}", narrative_items(data, dates), n_themes)
        assigned = project.assignments()
        body = project.get(
            "/trends", by=["attribute:service_type", "period:month"], until=until.isoformat()
        )
        timeline = next(k for k, t in enumerate(body["timelines"]) if t["group"] == [stype])
        moved_ids = [data.ids[i] for i in moved]
        flagged = []
        for weft in body["themes"]:
            trend = weft["trends"][timeline]
            if trend["status"] not in ("rising", "new"):
                continue
            held = sum(assigned.get(cid) == weft["key"] for cid in moved_ids) / len(moved_ids)
            flagged.append(
                {
                    "theme": weft["key"],
                    "label": weft["label"],
                    "status": trend["status"],
                    "q_value": trend["q_value"],
                    "reading": trend["reading"],
                    "share_of_moved": round(held, 4),
                }
            )
        flagged.sort(key=lambda f: -f["share_of_moved"])
        best = flagged[0]["share_of_moved"] if flagged else 0.0
        keys = {f["theme"] for f in flagged}
        union = sum(assigned.get(cid) in keys for cid in moved_ids) / len(moved_ids)
        top_theme = Counter(assigned.get(cid) for cid in moved_ids).most_common(1)[0]
        results.append(
            {
                "gold_theme": theme,
                "service_type": stype,
                "n_themes": n_themes,
                "comments_available": available,
                "moved": len(moved),
                "window": [first.isoformat(), end.isoformat()],
                "flagged": flagged,
                "best_share_of_moved": best,
                "flagged_union_share_of_moved": round(union, 4),
                "largest_weft_theme_of_moved": {
                    "theme": top_theme[0],
                    "share": round(top_theme[1] / len(moved_ids), 4),
                },
                "kmeans_largest_share_of_moved": {
                    str(k): largest_share(labels[moved]) for k, labels in (anchors or {}).items()
                },
                "timeline_reason": body["timelines"][timeline]["reason"],
                "analysis_seconds": round(project.analysis_seconds, 1),
                "met": best >= 0.7,
            }
        )
        print(
            f"planted (n_themes={n_themes}) {theme!r} in {stype!r}: best flagged theme "
            f"holds {best:.0%} of {len(moved)} moved (union {union:.0%}); {len(flagged)} flagged; "
            f"largest k-means cluster {results[-1]['kmeans_largest_share_of_moved']}",
            flush=True,
        )
    return results


def write_dates(engine: Engine, narrative_ids: Sequence[int], days: Sequence[date]) -> None:
    """Set narratives' dates in the store directly (the null control's shuffles)."""
    stmt = (
        update(Narrative)
        .where(Narrative.id == bindparam("nid"))
        .values(occurred_at=bindparam("when"))
    )
    rows = [
        {"nid": nid, "when": datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=12)}
        for nid, day in zip(narrative_ids, days, strict=True)
    ]
    with engine.begin() as conn:
        conn.execute(stmt, rows)


def null_control(
    data: Comments, service: Service, project: Project, shuffles: int, seed: int = 1
) -> dict[str, Any]:
    engine = create_engine(service.url)
    ids = {a["external_id"]: a["narrative_id"] for a in project.get("/assignments")["assignments"]}
    narrative_ids = [ids[cid] for cid in data.ids]
    rng = np.random.default_rng(seed)
    end = last_two_months(data.dates)[1]
    until = datetime.combine(end + timedelta(days=1), datetime.min.time(), UTC).isoformat()
    runs = []
    try:
        for run in range(shuffles):
            order = rng.permutation(len(data))
            write_dates(engine, narrative_ids, [data.dates[int(j)] for j in order])
            overall = project.get("/trends", by="period:month", until=until)
            per_service = project.get(
                "/trends", by=["attribute:service_type", "period:month"], until=until
            )
            row: dict[str, Any] = {"run": run}
            for name, body in (("overall", overall), ("per_service", per_service)):
                flagged = sum(
                    t["status"] in ("rising", "falling")
                    for theme in body["themes"]
                    for t in theme["trends"]
                )
                tested = sum(t["n_tests"] for t in body["timelines"])
                row[name] = {
                    "flagged": flagged,
                    "tested": tested,
                    "themes": len(body["themes"]) * len(body["timelines"]),
                }
            runs.append(row)
            print(
                f"null {run}: overall {row['overall']['flagged']}/{row['overall']['tested']}, "
                f"per service {row['per_service']['flagged']}/{row['per_service']['tested']}",
                flush=True,
            )
        # put the real dates back for the speed figures
        write_dates(engine, narrative_ids, data.dates)
    finally:
        engine.dispose()

    def summary(name: str) -> dict[str, Any]:
        flagged = [r[name]["flagged"] for r in runs]
        rate = [r[name]["flagged"] / r[name]["tested"] if r[name]["tested"] else 0.0 for r in runs]
        return {
            "mean_flagged": round(float(np.mean(flagged)), 3),
            "max_flagged": int(max(flagged)),
            "mean_tested": round(float(np.mean([r[name]["tested"] for r in runs])), 1),
            "mean_rate": round(float(np.mean(rate)), 4),
            "met": bool(np.mean(rate) <= 0.05),
        }

    return {
        "shuffles": shuffles,
        "overall": summary("overall"),
        "per_service": summary("per_service"),
        "runs": runs,
    }


SPEED_FORMS: list[dict[str, Any]] = [
    {"by": "attribute:trust"},
    {"by": "period:month"},
    {"by": "period:week"},
    {"by": ["attribute:trust", "period:month"]},
    {"by": ["attribute:service_type", "period:month"]},
]


def speed(project: Project, calls: int) -> list[dict[str, Any]]:
    rows = []
    for params in SPEED_FORMS:
        project.get("/trends", **params)
        seconds = []
        for _ in range(calls):
            started = time.perf_counter()
            project.get("/trends", **params)
            seconds.append(time.perf_counter() - started)
        ms = sorted(1000 * s for s in seconds)
        rows.append(
            {
                "by": params["by"],
                "calls": calls,
                "median_ms": round(statistics.median(ms), 1),
                "p95_ms": round(ms[int(np.ceil(0.95 * len(ms))) - 1], 1),
            }
        )
        print(
            f"speed {params['by']}: median {rows[-1]['median_ms']} ms, p95 {rows[-1]['p95_ms']} ms",
            flush=True,
        )
    return rows


#: Gold themes with at least 30 comments: the number of themes Weft is told in the
#: "n_themes=k" runs, as bench.quality tells it the number of classes.
GOLD_K = 31

#: The coarse k-means anchor of the planted trend: three clusters of about two thousand
#: comments each, the broadest partition that still separates anything.
COARSE_K = 3

SECTIONS = ("prevalence", "speed", "null", "planted", "large")


def report_prevalence(name: str, figures: dict[str, Any]) -> None:
    print(
        f"prevalence ({name}): Spearman {figures['spearman']} over {figures['gold_themes']} "
        f"gold themes (mapped only: {figures['spearman_mapped_only']} over "
        f"{figures['gold_themes_mapped']})",
        flush=True,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=None, help="data directory (default ../shared/data)")
    parser.add_argument("--out", default=str(RESULTS_DIR / "trends.json"))
    parser.add_argument("--shuffles", type=int, default=20)
    parser.add_argument("--planted", type=int, default=5)
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument(
        "--min-planted", type=int, default=80, help="comments a planted theme needs"
    )
    parser.add_argument("--large", type=int, default=20_000, help="narratives of the large project")
    parser.add_argument("--limit", type=int, default=None, help="first N comments (smoke runs)")
    parser.add_argument(
        "--sections",
        default=",".join(SECTIONS),
        help=f"comma-separated, any of {', '.join(SECTIONS)}",
    )
    args = parser.parse_args(argv)
    sections = set(args.sections.split(","))

    everything = load_comments(args.data)
    # vectors of every comment are cached together, so a smoke run warms the full run
    embedder = CachedEmbedder(everything.texts, set_name=CACHE_NAME)
    data = load_comments(args.data, args.limit) if args.limit else everything
    print(f"{len(data)} comments, {len(data.theme_names)} gold themes", flush=True)
    out: dict[str, Any] = {
        "meta": {
            "data": str(NHS_FILE),
            "comments": len(data),
            "model": DEFAULT_MODEL_NAME,
            "python": platform.python_version(),
            "machine": platform.machine(),
        }
    }
    with (
        tempfile.TemporaryDirectory(prefix="weft-bench-trends-") as tmp,
        Service(Path(tmp), embedder) as service,
    ):
        base = service.project("nhs", narrative_items(data))
        out["meta"]["analysis_seconds"] = round(base.analysis_seconds, 1)
        assigned = base.assignments()
        out["meta"]["weft_themes"] = len(set(k for k in assigned.values() if k))
        out["meta"]["unclustered"] = sum(k is None for k in assigned.values())
        # the anchor: k-means on the same embeddings, as many clusters as Weft has themes
        vectors = embedder.encode(data.texts)
        leaf_assigned = base.assignments("leaf")
        counts = {
            "top": out["meta"]["weft_themes"],
            "leaf": len(set(k for k in leaf_assigned.values() if k)),
        }
        kmeans = {k: kmeans_labels(vectors, k) for k in sorted({COARSE_K, *counts.values()})}
        if "prevalence" in sections:
            out["prevalence"] = prevalence(data, base, map_themes(data, assigned))
            report_prevalence("default", out["prevalence"])
            # the same analysis read at the finer level: sub-themes where themes have them
            leaf = prevalence(data, base, map_themes(data, leaf_assigned), "leaf")
            out["prevalence_leaf"] = {"level": "leaf", **leaf}
            report_prevalence("default, level=leaf", leaf)
            for level, k in counts.items():
                anchor = kmeans_prevalence(data, kmeans[k])
                out[f"prevalence_kmeans_{level}"] = {"k": k, **anchor}
                report_prevalence(f"k-means k={k} (as many as Weft's {level} level)", anchor)
            # as bench.quality does, Weft told the number of gold themes it is scored against
            k = out["prevalence"]["gold_themes"]
            assert args.limit is not None or k == GOLD_K
            told = service.project("nhs k", narrative_items(data), n_themes=k)
            out["prevalence_n_themes_k"] = {
                "n_themes": k,
                **prevalence(data, told, map_themes(data, told.assignments())),
            }
            report_prevalence(f"n_themes={k}", out["prevalence_n_themes_k"])
        if "speed" in sections:
            out["speed"] = {"nhs": speed(base, args.calls)}
        if "null" in sections:
            out["null"] = null_control(data, service, base, args.shuffles)
            summary = {k: out["null"][k] for k in ("overall", "per_service")}
            print(f"null: {json.dumps(summary)}", flush=True)
        if "planted" in sections:
            anchors = {k: kmeans[k] for k in (COARSE_K, counts["top"])}
            out["planted"] = planted(data, service, args.planted, args.min_planted, anchors=anchors)
            k = GOLD_K if args.limit is None else None
            out["planted_n_themes_k"] = planted(data, service, args.planted, args.min_planted, k)
        if "large" in sections:
            copies = -(-args.large // len(data))
            items = narrative_items(data, copies=copies, limit=args.large)
            large = service.project("large", items)
            out["meta"]["large_analysis_seconds"] = round(large.analysis_seconds, 1)
            out.setdefault("speed", {})["large"] = speed(large, args.calls)
        out["meta"]["embedding_cache_misses"] = embedder.misses

    path = Path(args.out)
    write_json(path, out)
    print(f"wrote {path}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
