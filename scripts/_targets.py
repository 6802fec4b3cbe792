"""A study's targets judged from its runs: each compares its arms on the seeds they all ran, and is pending until
every run of those arms has finished."""

from __future__ import annotations

from typing import Any

from yolodistill.report import gap_recovered, percent


def judge(study: dict[str, Any], summary: dict[str, dict], runs: list[dict],
          teacher: float | None = None) -> dict[str, dict[str, Any]]:
    """Each target of the study file with the numbers that decide it. A target is pending (met None) until every
    run of the arms it compares has finished: a verdict on some of the seeds is no verdict. Every target compares
    its arms on the seeds they all ran (differences seed by seed; a gap or a share from those seeds' means), so a
    candidate tried on seed 0 alone is not set against another arm's mean of three; `shown` says so. `teacher` is
    the teacher's mAP50-95, for gap targets."""
    out: dict[str, dict[str, Any]] = {}
    by_seed = {(r["arm"], r["seed"]): r["map50_95"] for r in runs}

    def complete(arm: str) -> bool:
        return all((arm, s) in by_seed for s in study["arms"][arm].get("seeds", study["seeds"]))

    for t in study.get("targets", []):
        arm, other, by = t["arm"], t.get("above"), t.get("by", 0.0)
        key = (f"{arm}-gap" if "gap" in t else f"{arm}-closes-{'-'.join(t['between'])}" if "between" in t
               else f"{arm}-above-{other}")
        key = key if key not in out else f"{key}-{len(out) + 1}"
        per_seed = t.get("per_seed")
        if "gap" in t:
            goal = {"description": f"{arm} recovers the teacher-plain gap",
                    "needed": f">= {t['gap']:.0%}" + (f" (aim {t['aim']:.0%})" if "aim" in t else "")}
        elif "between" in t:
            low, high = t["between"]
            goal = {"description": f"{arm} closes the way from {low} to {high}", "needed": f">= {t['share']:.0%}"}
        else:
            goal = {"description": f"{arm} above {other}" + (f" by {by:g}" if by else "")
                    + {"at_least": ", no seed below it", "above": ", above it on every seed", None: ""}[per_seed],
                    "needed": f">= {by:+.3f}" if by else "> 0"}
        out[key] = goal
        pair = (arm, *t["between"]) if "between" in t else (arm, other or "plain")
        if not all(a in summary for a in pair):
            goal.update(met=None, shown="not run")
            continue
        shared = [s for s in summary[arm]["seeds"] if all((a, s) in by_seed for a in pair)]
        if not shared:
            goal.update(met=None, shown="no seed in common")
            continue
        mean = {a: sum(by_seed[(a, s)] for s in shared) / len(shared) for a in pair}
        only = ("" if all(len(summary[a]["seeds"]) <= len(shared) for a in pair)
                else f", seed{'s' * (len(shared) > 1)} {', '.join(map(str, shared))} only")
        if "between" in t:
            low, high = (mean[a] for a in t["between"])
            share = (mean[arm] - low) / (high - low) if high > low else None
            goal.update(value=share, shown=("undefined" if share is None else percent(share)) + only,
                        met=share is not None and share >= t["share"])
        elif "gap" in t:
            gap = gap_recovered(mean[arm], mean[pair[1]], teacher)
            goal.update(value=gap, shown=("undefined" if gap is None else percent(gap)) + only,
                        met=gap is not None and gap >= t["gap"])
        else:
            diffs = [by_seed[(arm, s)] - by_seed[(other, s)] for s in shared]
            diff, worst = sum(diffs) / len(diffs), min(diffs)
            seed_ok = {"at_least": worst >= 0, "above": worst > 0, None: True}[per_seed]
            goal.update(value=diff, worst_seed_diff=worst, met=(diff >= by if by else diff > 0) and seed_ok,
                        shown=f"{diff:+.3f} (worst seed {signed(worst)}{only})")
        if not all(complete(a) for a in pair):
            goal.update(met=None, shown=goal["shown"] + " so far")
    return out


def signed(x: float) -> str:
    """+0.012; a difference that rounds to zero at three places keeps its sign and one more place (-0.0001)."""
    return f"{x:+.3f}" if x == 0 or abs(x) >= 0.0005 else f"{x:+.4f}"


