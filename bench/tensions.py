"""Tension and polarity signals against labelled data (IBM ArgKP-2021, Polis, SenseMaker, NHS).

nice .venv/bin/python -m bench.tensions [--data ../shared/data] [--only argkp,polis,...]
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from bench.harness import (
    RESULTS_DIR,
    IntArray,
    cached_text_embeddings,
    data_dir,
    load_argkp_rows,
    load_nhs_rows,
    write_json,
)

if TYPE_CHECKING:
    from pipelines.signals import Signal
    from pipelines.themes import ThemeResult

FloatArray = npt.NDArray[np.float64]


_NEGATABLE = re.compile(r"\b(should|is|are)\b", re.IGNORECASE)


def negate_claim(claim: str) -> str:
    """The claim with ``not`` after its first modal/copula ("We should ban X" -> "... not ...")."""
    match = _NEGATABLE.search(claim)
    if match is None:
        return f"It is not true that {claim[0].lower()}{claim[1:]}"
    return f"{claim[: match.end()]} not{claim[match.end() :]}"


def pole_texts(claim: str) -> tuple[str, str]:
    """The two pole descriptions a debate topic gives: the claim and its negation."""
    return claim, negate_claim(claim)


# --- data -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ArgKP:
    texts: list[str]
    topics: list[str]
    stance: IntArray
    keypoints: list[list[str]]


def load_argkp(root: str | Path | None = None) -> ArgKP:
    texts: list[str] = []
    topics: list[str] = []
    stance: list[int] = []
    keypoints: list[list[str]] = []
    for row in load_argkp_rows(root):
        texts.append(row["argument"])
        topics.append(row["topic"])
        stance.append(int(row["stance"]))
        ids = row["matched_key_point_ids"].strip()
        keypoints.append([k for k in ids.split(";") if k] if ids else [])
    return ArgKP(texts, topics, np.asarray(stance, dtype=np.int64), keypoints)


@dataclass(frozen=True)
class NHS:
    texts: list[str]
    sentiment: FloatArray  # gold 1 (very positive) .. 5 (very negative), nan when blank
    theme_names: list[str]
    themes: npt.NDArray[np.bool_]  # (n, n_themes) one-hot framework labels


_NHS_META = {
    "Comment ID",
    "Trust",
    "Respondent ID",
    "Date",
    "Service type 1",
    "Service type 2",
    "FFT categorical answer",
    "FFT question",
    "FFT answer",
    "Person identifiable info?",
    "Comment sentiment",
}


def load_nhs(root: str | Path | None = None) -> NHS:
    columns, rows = load_nhs_rows(root)
    names = [c for c in columns if c not in _NHS_META]
    sentiment = np.array(
        [float(r["Comment sentiment"]) if r["Comment sentiment"].strip() else np.nan for r in rows]
    )
    themes = np.array([[r[c].strip() == "1" for c in names] for r in rows], dtype=bool)
    return NHS([r["FFT answer"].strip() for r in rows], sentiment, names, themes)


@dataclass(frozen=True)
class SenseMaker:
    texts: list[str]
    triads: dict[str, tuple[list[str], FloatArray]]  # question -> (anchors, (n, 3) or nan rows)
    dyads: dict[str, tuple[list[str], FloatArray]]  # question -> (poles, (n,) or nan)
    stones: dict[str, FloatArray]  # stone -> (n, 2) or nan rows
    multiselect: dict[str, list[list[str]]]  # question -> chosen options per story
    lists: dict[str, list[str | None]]  # question -> option per story


def _float(raw: str) -> float:
    raw = raw.strip()
    return float(raw) if raw else np.nan


def load_sensemaker(root: str | Path | None = None) -> SenseMaker:
    path = data_dir(root) / "sensemaker_demo" / "fragments_decoded.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        header = list(reader.fieldnames or [])
        rows = list(reader)
    texts = [(r["title"].strip() + ". " + r["story"].strip()).strip(". ") for r in rows]
    triad_cols: dict[str, list[str]] = {}
    for col in header:
        if col.startswith("triad:"):
            _, question, anchor = col.split(":", 2)
            triad_cols.setdefault(question, []).append(anchor)
    triads: dict[str, tuple[list[str], FloatArray]] = {}
    for question, anchors in triad_cols.items():
        values = np.array(
            [[_float(r[f"triad:{question}:{a}"]) for a in anchors] for r in rows], dtype=float
        )
        triads[question] = (anchors, values / 100.0)
    dyads: dict[str, tuple[list[str], FloatArray]] = {}
    for col in header:
        if col.startswith("dyad:"):
            _, question, poles = col.split(":", 2)
            match = re.match(r"\[0=(.*) \.\. 1=(.*)\]", poles)
            names = [match.group(1), match.group(2)] if match else ["left", "right"]
            dyads[question] = (names, np.array([_float(r[col]) for r in rows]))
    stones: dict[str, FloatArray] = {}
    for col in header:
        if col.startswith("stones:") and col.endswith(":x"):
            stone = col.split(":")[2]
            stones[stone] = np.array(
                [[_float(r[col]), _float(r[col[:-1] + "y"])] for r in rows], dtype=float
            )
    multiselect = {
        col.split(":")[1]: [[o for o in r[col].split(";") if o] for r in rows]
        for col in header
        if col.startswith("multiselect:")
    }
    lists = {
        col.split(":")[1]: [r[col].strip() or None for r in rows]
        for col in header
        if col.startswith("list:")
    }
    return SenseMaker(texts, triads, dyads, stones, multiselect, lists)


# --- helpers ----------------------------------------------------------------------------------


def _auc_free(truth: npt.NDArray[np.bool_], score: FloatArray) -> float:
    from sklearn.metrics import roc_auc_score

    auc = float(roc_auc_score(truth, score))
    return max(auc, 1.0 - auc)


def _anchor_embeddings(
    anchors: tuple[tuple[str, ...], tuple[str, ...]],
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    flat = cached_text_embeddings("anchors", [*anchors[0], *anchors[1]])
    return flat[: len(anchors[0])], flat[len(anchors[0]) :]


def _themes(
    texts: Sequence[str], embeddings: npt.NDArray[np.float32], random_state: int = 0
) -> ThemeResult:
    from pipelines.themes import find_themes

    return find_themes(texts, embeddings, with_map=False, random_state=random_state)


def _section(title: str) -> None:
    print(f"\n=== {title} " + "=" * max(0, 90 - len(title)))


# --- 1. opposing poles on ArgKP -------------------------------------------------------------


def bench_argkp(root: Path | None, results: dict[str, object]) -> None:
    from scipy.stats import spearmanr
    from sklearn.cluster import KMeans
    from sklearn.metrics import normalized_mutual_info_score

    from pipelines.signals import (
        EVALUATIVE_ANCHORS,
        SENTIMENT_ANCHORS,
        axis_positions,
        opposing_sides_signals,
        polarity_seed,
        sentiment_scores,
        split_sides,
        vader_scores,
    )

    _section("Opposing poles: IBM ArgKP-2021 (31 topics, AUC vs gold stance, direction-free)")
    data = load_argkp(root)
    E = cached_text_embeddings("argkp", data.texts)
    topics = sorted(set(data.topics))
    poles = cached_text_embeddings("argkp_poles", [t for tp in topics for t in pole_texts(tp)])
    vader = vader_scores(data.texts)
    sentiment = sentiment_scores(data.texts, E, _anchor_embeddings(SENTIMENT_ANCHORS))
    seed_all = polarity_seed(sentiment, E, _anchor_embeddings(EVALUATIVE_ANCHORS))
    topic_of = np.array(data.topics)
    methods = [
        "vader",
        "pc1",
        "two_means",
        "claim_axis",
        "weft_seed",
        "weft_sides",
        "weft_sides_vader_seed",
    ]
    rows: dict[str, list[float]] = {m: [] for m in methods}
    flagged = 0
    nmi_theme: list[float] = []
    nmi_sub: list[float] = []
    n_themes: list[int] = []
    for i, topic in enumerate(topics):
        member = np.flatnonzero(topic_of == topic)
        X = E[member]
        truth = data.stance[member] > 0
        centred = X - X.mean(axis=0)
        pc1 = centred @ np.linalg.svd(centred, full_matrices=False)[2][0]
        km = KMeans(2, n_init=10, random_state=0).fit_predict(X).astype(float)
        claim = axis_positions(X, poles[2 * i + 1], poles[2 * i])  # negation (left) -> claim
        seed = seed_all[member]
        sides = split_sides(X, seed, n_permutations=999)
        sides_vader = split_sides(X, vader[member], n_permutations=9)
        for name, score in (
            ("vader", vader[member]),
            ("pc1", pc1),
            ("two_means", km),
            ("claim_axis", claim),
            ("weft_seed", seed),
            ("weft_sides", sides.scores),
            ("weft_sides_vader_seed", sides_vader.scores),
        ):
            rows[name].append(_auc_free(truth, score))
        texts = [data.texts[j] for j in member]
        signal = opposing_sides_signals(
            texts, X, np.zeros(member.size, dtype=np.int64), seed, n_permutations=999
        )[0]
        flagged += int(signal.flagged)
        themes = _themes(texts, X, random_state=0)
        single = np.array([len(data.keypoints[j]) == 1 for j in member])
        gold = [data.keypoints[j][0] for j in member[single]]
        labels = themes.labels[single]
        sub = themes.subtheme_labels[single]
        nmi_theme.append(float(normalized_mutual_info_score(gold, labels)))
        nmi_sub.append(float(normalized_mutual_info_score(gold, sub)))
        n_themes.append(int(themes.n_themes))
    print(f"{'method':<26}{'mean AUC':>10}{'min':>8}{'max':>8}  topics >= 0.80")
    for name in methods:
        v = np.array(rows[name])
        above = int((v >= 0.8).sum())
        print(f"{name:<26}{v.mean():>10.3f}{v.min():>8.3f}{v.max():>8.3f}  {above:>3}/31")
    print(f"opposing_sides flagged (Holm within topic, alpha 0.05): {flagged}/31 topics")
    print(
        f"NMI vs matched key points (arguments with one key point): "
        f"themes {np.mean(nmi_theme):.3f}, sub-themes {np.mean(nmi_sub):.3f} "
        f"(themes per topic: median {int(np.median(n_themes))})"
    )
    rho = float(spearmanr(rows["weft_sides"], rows["weft_seed"])[0])
    results["argkp"] = {
        "mean_auc": {k: float(np.mean(v)) for k, v in rows.items()},
        "per_topic_auc": {k: dict(zip(topics, v, strict=True)) for k, v in rows.items()},
        "flagged_topics": flagged,
        "nmi_themes": float(np.mean(nmi_theme)),
        "nmi_subthemes": float(np.mean(nmi_sub)),
        "seed_vs_sides_topic_spearman": rho,
    }


# --- 2. votes on Polis ----------------------------------------------------------------------

POLIS = (
    "15-per-hour-seattle",
    "brexit-consensus",
    "football-concussions",
    "scoop-hivemind.taxes",
    "scoop-hivemind.ubi",
)


def _gold_polis(path: Path) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        groups = [
            c[: -len("_agree_rate")]
            for c in reader.fieldnames or []
            if c.startswith("g") and c.endswith("_agree_rate")
        ]
        for row in reader:
            rates = [
                float(row[f"{g}_agree_rate"]) for g in groups if row[f"{g}_agree_rate"].strip()
            ]
            spread = row["group_agree_rate_spread"].strip()
            out[row["comment_id"]] = {
                "spread": float(spread) if spread else np.nan,
                "consensus": float(np.prod(rates)) if len(rates) == len(groups) else np.nan,
            }
    return out


def bench_polis(root: Path | None, results: dict[str, object]) -> None:
    from scipy.stats import spearmanr

    from pipelines.ingest.polis import parse_polis
    from pipelines.signals import comment_votes, vote_signals, vote_table

    _section("Votes: Polis (divisiveness and consensus vs comment_group_stats.csv)")
    base = data_dir(root) / "polis"
    out: dict[str, object] = {}
    head = f"{'conversation':<24}{'n':>5}{'rho div':>9}{'rho cons':>10}{'rho div raw':>13}"
    print(f"{head}  divisive themes")
    for conv in POLIS:
        folder = base / conv
        parsed = parse_polis(
            (folder / "comments.csv").read_bytes(),
            participants_votes=(folder / "participants-votes.csv").read_bytes(),
            include_rejected=True,
        )
        ids = [r.external_id or "" for r in parsed.records]
        table = vote_table(parsed.tallies, items=ids)
        votes = comment_votes(table)
        raw = comment_votes(table, prior=0.0)
        gold = _gold_polis(folder / "comment_group_stats.csv")
        spread = np.array([gold.get(i, {}).get("spread", np.nan) for i in ids])
        cons = np.array([gold.get(i, {}).get("consensus", np.nan) for i in ids])
        ok_d = np.isfinite(spread) & np.isfinite(votes.divisiveness)
        ok_c = np.isfinite(cons)
        rho_d = float(spearmanr(votes.divisiveness[ok_d], spread[ok_d])[0])
        rho_c = float(spearmanr(votes.consensus[ok_c], cons[ok_c])[0])
        ok_r = np.isfinite(spread) & np.isfinite(raw.divisiveness)
        rho_raw = float(spearmanr(raw.divisiveness[ok_r], spread[ok_r])[0])
        texts = [r.text for r in parsed.records]
        E = cached_text_embeddings(f"polis_{conv}", texts)
        themes = _themes(texts, E, random_state=0)
        labels = themes.labels
        signals = vote_signals(table, labels, votes=votes)
        per_theme = {
            int(s.themes[0]): {
                "label": themes.themes[s.themes[0]].label,
                "mean_divisiveness": s.strength,
                "rest": s.evidence["rest_mean"],
                "p_adjusted": s.p_adjusted,
                "flagged": s.flagged,
            }
            for s in signals
            if s.kind == "divisive_theme"
        }
        flagged = [f"{t}:{v['label']}" for t, v in per_theme.items() if v["flagged"]]
        n_found = themes.n_themes
        flagged.insert(0, f"[{n_found} themes, {len(per_theme)} tested]")
        line = f"{conv:<24}{len(ids):>5}{rho_d:>9.3f}{rho_c:>10.3f}{rho_raw:>13.3f}"
        print(f"{line}  {', '.join(flagged)}")
        for t, v in sorted(per_theme.items(), key=lambda kv: -float(kv[1]["mean_divisiveness"])):
            print(
                f"    theme {t:>2} {str(v['label'])[:40]:<40} mean div {v['mean_divisiveness']:.3f}"
                f" (rest {v['rest']:.3f}) p_holm {v['p_adjusted']:.3f}"
            )
        out[conv] = {
            "n_comments": len(ids),
            "spearman_divisiveness": rho_d,
            "spearman_consensus": rho_c,
            "spearman_divisiveness_unsmoothed": rho_raw,
            "themes": per_theme,
            "n_divisive_comments": int(np.sum(np.nan_to_num(votes.p_adjusted, nan=1) <= 0.05)),
        }
    results["polis"] = out


# --- 3. signifiers on the SenseMaker demo ---------------------------------------------------


def bench_sensemaker(root: Path | None, results: dict[str, object]) -> None:
    from pipelines.signals import (
        SENTIMENT_ANCHORS,
        choice_signals,
        dyad_signals,
        group_divergence_signals,
        mixed_sentiment_signals,
        sentiment_scores,
        stones_signals,
        triad_signals,
    )

    _section("Signifiers: SenseMaker demo (129 stories)")
    data = load_sensemaker(root)
    E = cached_text_embeddings("sensemaker", data.texts)
    themes = _themes(data.texts, E, random_state=0)
    labels = themes.labels
    names = {t.theme: t.label for t in themes.themes}
    print(
        f"themes: {len(names)} "
        + "; ".join(f"{t}={n} ({int(np.sum(labels == t))})" for t, n in names.items())
    )
    found: list[dict[str, object]] = []
    polar: list[dict[str, object]] = []
    tested = 0

    def keep(signals: list[Signal]) -> None:
        nonlocal tested
        for s in signals:
            tested += 1
            record = s.to_json()
            if s.flagged:
                found.append(record)
            if record["kind"] in ("dyad_polarised", "dyad_shift", "triad_shift"):
                polar.append(record)

    for q, (poles, v) in data.dyads.items():
        keep(dyad_signals(v, labels, subject=q, poles=(poles[0], poles[1]), min_count=15))
    for q, (anchors, v) in data.triads.items():
        keep(triad_signals(v, labels, subject=q, anchors=anchors, min_count=15))
    for stone, xy in data.stones.items():
        keep(stones_signals(xy, labels, subject=stone))
    for q, chosen in data.multiselect.items():
        keep(choice_signals([c or None for c in chosen], labels, subject=q))
    for q, answers in data.lists.items():
        keep(choice_signals(answers, labels, subject=q))
    sentiment = sentiment_scores(data.texts, E, _anchor_embeddings(SENTIMENT_ANCHORS))
    keep(mixed_sentiment_signals(sentiment, labels, min_count=15))
    for attr in ("Gender?", "How long have you worked for this company?"):
        groups = data.lists[attr]
        keep(
            group_divergence_signals(sentiment, labels, groups, subject="sentiment", attribute=attr)
        )
        for q, (_, v) in data.dyads.items():
            keep(group_divergence_signals(v, labels, groups, subject=q, attribute=attr))
        for q, (_, v) in data.triads.items():
            keep(
                group_divergence_signals(
                    v, labels, groups, variable="triad", subject=q, attribute=attr
                )
            )
    real = [s for s in found if s["kind"] != "group_consensus"]
    print(
        f"signals evaluated: {tested}; flagged: {len(real)} (+ {len(found) - len(real)} consensus)"
    )
    for s in found:
        print(
            f"  {s['kind']:<22} theme {s['themes']} {str(s['subject'])[:48]:<48} "
            f"{s['strength_name']}={s['strength']:.3f} p_holm={s['p_adjusted']}"
        )
    print("dyad polarisation / shift and triad shift, every theme tested (Holm per signifier):")
    for r in polar:
        ev: dict[str, Any] = r["evidence"]  # type: ignore[assignment]
        extra = ""
        if r["kind"] == "dyad_polarised":
            summ = ev["summary"]
            extra = (
                f"left {summ['left_share']:.2f} middle {summ['middle_share']:.2f} "
                f"right {summ['right_share']:.2f} BC {summ['bimodality_coefficient']:.2f}"
            )
        elif r["kind"] == "triad_shift":
            extra = "theme/rest share ratio " + " ".join(f"{v:.2f}" for v in ev["share_ratio"])
        print(
            f"  {'*' if r['flagged'] else ' '} {r['kind']:<15} theme {r['themes']} "
            f"{str(r['subject'])[:40]:<40} {r['strength_name']}={r['strength']:.2f} "
            f"p={r['p_value']:.3f} p_holm={r['p_adjusted']:.3f} {extra}"
        )
    results["sensemaker"] = {
        "themes": names,
        "tested": tested,
        "flagged": found,
        "dyads_and_triads": polar,
    }


# --- 4. sentiment on NHS patient experience -------------------------------------------------


def bench_nhs(root: Path | None, results: dict[str, object]) -> None:
    from scipy.stats import spearmanr

    from pipelines.signals import (
        SENTIMENT_ANCHORS,
        adjust_pvalues,
        embedding_sentiment,
        mixed_sentiment_signals,
        sentiment_scores,
        vader_scores,
    )

    _section("Sentiment: NHS patient experience (Spearman vs gold 1-5, sign flipped)")
    data = load_nhs(root)
    E = cached_text_embeddings("nhs", data.texts)
    anchors = _anchor_embeddings(SENTIMENT_ANCHORS)
    vader = vader_scores(data.texts)
    emb = embedding_sentiment(E, *anchors)
    weft = sentiment_scores(data.texts, E, anchors)
    ok = np.isfinite(data.sentiment)
    gold = -data.sentiment[ok]
    rhos = {
        "vader": float(spearmanr(vader[ok], gold)[0]),
        "embedding_only": float(spearmanr(emb[ok], gold)[0]),
        "weft": float(spearmanr(weft[ok], gold)[0]),
    }
    for k, v in rhos.items():
        print(f"  {k:<16} rho = {v:.3f}   (n = {int(ok.sum())})")
    gold_pos = data.sentiment <= 2
    gold_neg = data.sentiment >= 4

    def gold_mixed(mask: npt.NDArray[np.bool_]) -> tuple[float, float]:
        m = mask & ok
        return float(gold_pos[m].mean()), float(gold_neg[m].mean())

    # Weft's own themes
    themes = _themes(data.texts, E, random_state=0)
    labels = themes.labels
    signals = mixed_sentiment_signals(weft, labels)
    rows = []
    for s in signals:
        t = s.themes[0]
        pos, neg = gold_mixed(labels == t)
        rows.append(
            (t, themes.themes[t].label, s.strength, s.flagged, pos, neg, int(np.sum(labels == t)))
        )
    weft_mix = np.array([r[2] for r in rows])
    gold_mix = np.array([min(r[4], r[5]) for r in rows])
    rho_mix = float(spearmanr(weft_mix, gold_mix)[0]) if len(rows) > 2 else float("nan")
    flagged = [r for r in rows if r[3]]
    print(
        f"Weft themes: {len(rows)} tested, {len(flagged)} flagged mixed; "
        f"Spearman(weft mixedness, gold min(pos, neg) share) = {rho_mix:.3f}"
    )
    gold_all = min(gold_mixed(np.ones(len(data.texts), dtype=bool)))
    in_flagged = [min(r[4], r[5]) for r in flagged]
    in_others = [min(r[4], r[5]) for r in rows if not r[3]]
    print(
        f"  gold min(pos, neg) share: project {gold_all:.3f}, flagged themes "
        f"{np.mean(in_flagged) if in_flagged else float('nan'):.3f}, others "
        f"{np.mean(in_others) if in_others else float('nan'):.3f}"
    )
    for r in sorted(rows, key=lambda r: -r[2])[:12]:
        print(
            f"  {'*' if r[3] else ' '} theme {r[0]:>2} {str(r[1])[:40]:<40} n={r[6]:>4} "
            f"weft min-strong {r[2]:.2f}  gold pos {r[4]:.2f} neg {r[5]:.2f}"
        )
    # the framework's own (multi-label) themes: each theme against the rest, Holm over all
    tested_fw: list[tuple[str, float, float, float, float]] = []
    for j, name in enumerate(data.theme_names):
        member = data.themes[:, j]
        if member.sum() < 50:
            continue
        s = mixed_sentiment_signals(weft, np.where(member, 0, -1))[0]
        pos, neg = gold_mixed(member)
        tested_fw.append((name, s.strength, float(s.p_value or 1.0), pos, neg))
    holm = adjust_pvalues([r[2] for r in tested_fw], "holm")
    fw = [
        (r[0], r[1], bool(p_adj <= 0.05), r[3], r[4])
        for r, p_adj in zip(tested_fw, holm, strict=True)
    ]
    rho_fw = float(spearmanr([r[1] for r in fw], [min(r[3], r[4]) for r in fw])[0])
    for f in sorted(fw, key=lambda f: -f[1])[:8]:
        print(
            f"  {'*' if f[2] else ' '} {f[0][:48]:<48} weft min-strong {f[1]:.2f} "
            f"gold pos {f[3]:.2f} neg {f[4]:.2f}"
        )
    print(
        f"Framework themes (>= 50 comments): {len(fw)}, {sum(bool(r[2]) for r in fw)} flagged; "
        f"Spearman(weft mixedness, gold) = {rho_fw:.3f}"
    )
    results["nhs"] = {
        "spearman": rhos,
        "weft_themes": [
            {
                "theme": r[0],
                "label": r[1],
                "weft_min_strong": r[2],
                "flagged": r[3],
                "gold_pos": r[4],
                "gold_neg": r[5],
                "n": r[6],
            }
            for r in rows
        ],
        "mixedness_spearman_weft_themes": rho_mix,
        "framework_themes": [
            {
                "theme": r[0],
                "weft_min_strong": r[1],
                "flagged": r[2],
                "gold_pos": r[3],
                "gold_neg": r[4],
            }
            for r in fw
        ],
        "mixedness_spearman_framework": rho_fw,
    }


BENCHES: dict[str, Callable[[Path | None, dict[str, object]], None]] = {
    "argkp": bench_argkp,
    "polis": bench_polis,
    "sensemaker": bench_sensemaker,
    "nhs": bench_nhs,
}


def main(argv: Sequence[str] | None = None) -> None:
    import argparse
    import json
    import time

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--data", type=Path, default=None, help="data directory (../shared/data)")
    parser.add_argument(
        "--only", default=",".join(BENCHES), help="comma-separated: " + ",".join(BENCHES)
    )
    args = parser.parse_args(argv)
    results: dict[str, object] = {}
    for name in args.only.split(","):
        start = time.perf_counter()
        BENCHES[name.strip()](args.data, results)
        print(f"({name}: {time.perf_counter() - start:.0f} s)")
    out = RESULTS_DIR / "tensions.json"
    # sections not run this time keep their last figures
    previous = json.loads(out.read_text()) if out.is_file() else {}
    write_json(out, {**previous, **results}, indent=1)
    print(f"\nresults written to {out}")


if __name__ == "__main__":
    main()
