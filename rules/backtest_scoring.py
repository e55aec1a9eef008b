"""Scoring a replay against what happened: who missed quota, who was warned, how early.

The unit scored is a **rep-period**: one rep's quota period that ended inside the
replay. It ended in a **miss** when the rep's won amount fell short of ``miss_below``
times the quota. A rule **flagged** it when, at some step strictly inside the period,
the rep had a live finding of that rule (about the rep or one of the rep's deals): a
warning while there was still time to act. The pack flags a rep-period **for coaching**
when, at such a step, the rep had a live finding someone had been given a coaching task
about: the warning a manager really received, after budgets and cadence, rather than
every finding any rule held. From these:

* **recall**: flagged misses / misses (the misses the rules warned about);
* **precision**: flagged misses / flagged rep-periods (warnings that were needed); and,
  when a ground truth of real causes is known (the sandbox's), the share of flagged
  rep-periods whose rep was really drifting by the end of the period, and the recall of
  those reps' misses alone;
* **lead**: days from the first flagging step to the period's end, median over the
  flagged misses;
* **load**: findings opened and coaching tasks created per manager and week, as a
  manager would receive them, and deal-hygiene tasks per rep and week.

For activity rules, :func:`activity_chain` relates the activity to the result: per rep-
period, the rule's mean observed value against the quota attainment, as a correlation
over the reps of each team (and of the whole org), and the same over the first half of
each period only (how early the activity tells).
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from rules.backtest import Step
from rules.documents import VersionedRule
from rules.evaluation import CreateCoachingTask, OpenFinding
from rules.periods import midnight

PACK = "pack"


@dataclass(frozen=True, slots=True)
class QuotaOutcome:
    """One rep's quota period and what the rep won in it (as known at its end)."""

    rep_crm_id: str
    period_start: date
    period_end: date
    quota: float
    won: float

    @property
    def attainment(self) -> float | None:
        return self.won / self.quota if self.quota > 0 else None

    @property
    def ends_at(self) -> datetime:
        return midnight(self.period_end) + _DAY

    @property
    def starts_at(self) -> datetime:
        return midnight(self.period_start)


@dataclass(frozen=True, slots=True)
class Flag:
    """A rep-period a rule warned about, and the first step that did."""

    rule_key: str
    outcome: QuotaOutcome
    first_at: datetime

    @property
    def lead_days(self) -> float:
        return (self.outcome.ends_at - self.first_at).total_seconds() / 86_400


@dataclass(frozen=True, slots=True)
class Score:
    """One rule's (or the pack's) scores over the replay."""

    rule_key: str
    rep_periods: int
    misses: int
    flagged: int
    flagged_misses: int
    recall: float | None
    precision: float | None
    median_lead_days: float | None
    findings_per_manager_week: float
    tasks_per_manager_week: float
    flagged_with_cause: int | None = None
    hygiene_per_rep_week: float = 0.0
    cause_precision: float | None = None
    #: With a ground truth: the misses of reps really drifting by the period's end that
    #: were flagged, over all such misses (the misses a coaching rule can be blamed for).
    cause_recall: float | None = None


@dataclass(frozen=True, slots=True)
class Scores:
    pack: Score
    rules: tuple[Score, ...]
    flags: tuple[Flag, ...]
    outcomes: tuple[QuotaOutcome, ...]
    miss_below: float
    pack_flags: tuple[Flag, ...] = ()

    def missed(self, outcome: QuotaOutcome) -> bool:
        return _missed(outcome, self.miss_below)


def score(
    steps: Sequence[Step],
    outcomes: Iterable[QuotaOutcome],
    *,
    miss_below: float = 1.0,
    causes: Mapping[str, date] | None = None,
) -> Scores:
    """Score ``steps`` against ``outcomes``; ``causes`` maps a rep to when their real
    drift began (a ground truth), when one is known."""
    scored = tuple(
        o for o in outcomes if o.attainment is not None and _inside(o, steps)
    )  # fmt: skip
    live = [{(rule_key, subject.rep_crm_id) for rule_key, subject in step.live} for step in steps]
    coached = [{(PACK, subject.rep_crm_id) for _, subject in step.coached} for step in steps]
    rule_keys = sorted({key for step in steps for key in step.plan.scorecard.rule_keys})
    flags = [flag for key in rule_keys for flag in _flags(key, scored, steps, live)]
    pack_flags = _flags(PACK, scored, steps, coached)
    load = _load(steps)
    by_rule = [
        _score(key, scored, [f for f in flags if f.rule_key == key], load.get(key),
               miss_below=miss_below, causes=causes)
        for key in rule_keys
    ]  # fmt: skip
    pack = _score(PACK, scored, pack_flags, load.get(PACK), miss_below=miss_below, causes=causes)
    return Scores(pack, tuple(by_rule), tuple(flags), scored, miss_below, tuple(pack_flags))


_DAY = timedelta(days=1)


def _missed(outcome: QuotaOutcome, miss_below: float) -> bool:
    attainment = outcome.attainment
    return attainment is not None and attainment < miss_below


def _inside(outcome: QuotaOutcome, steps: Sequence[Step]) -> bool:
    """The period ended within the replay and at least one step fell inside it."""
    if not steps or outcome.ends_at > steps[-1].as_of:
        return False
    return any(outcome.starts_at < step.as_of < outcome.ends_at for step in steps)


LiveKey = tuple[str, str]  # (rule key, rep CRM id)


def _flags(
    rule_key: str,
    outcomes: Sequence[QuotaOutcome],
    steps: Sequence[Step],
    live: Sequence[set[LiveKey]],
) -> list[Flag]:
    found = []
    for outcome in outcomes:
        for step, pairs in zip(steps, live, strict=True):
            inside = outcome.starts_at < step.as_of < outcome.ends_at
            if inside and (rule_key, outcome.rep_crm_id) in pairs:
                found.append(Flag(rule_key, outcome, step.as_of))
                break
    return found


@dataclass(frozen=True, slots=True)
class _Load:
    findings: float
    tasks: float
    hygiene: float


def _load(steps: Sequence[Step]) -> dict[str, _Load]:
    """Findings opened and coaching tasks created per manager-week, and hygiene tasks
    per rep-week, per rule and for the pack.

    Each step is one week's evaluation at the replay's default cadence; the managers
    are those of the reps on the step's roster."""
    findings: dict[str, int] = defaultdict(int)
    tasks: dict[str, int] = defaultdict(int)
    hygiene: dict[str, int] = defaultdict(int)
    manager_weeks = rep_weeks = 0
    for step in steps:
        manager_weeks += len({r.manager_crm_id for r in step.reps if r.manager_crm_id})
        rep_weeks += len(step.reps)
        for opened in step.plan.of_type(OpenFinding):
            findings[opened.rule_key] += 1
            findings[PACK] += 1
        for task in step.plan.of_type(CreateCoachingTask):
            counts = hygiene if task.kind == "hygiene" else tasks
            counts[task.rule_key] += 1
            counts[PACK] += 1
    weeks, reps = max(manager_weeks, 1), max(rep_weeks, 1)
    keys = set(findings) | set(tasks) | set(hygiene)
    return {
        key: _Load(findings[key] / weeks, tasks[key] / weeks, hygiene[key] / reps) for key in keys
    }


def _score(
    key: str,
    outcomes: Sequence[QuotaOutcome],
    flags: Sequence[Flag],
    load: _Load | None,
    *,
    miss_below: float,
    causes: Mapping[str, date] | None,
) -> Score:
    misses = [o for o in outcomes if _missed(o, miss_below)]
    flagged_misses = [f for f in flags if _missed(f.outcome, miss_below)]
    leads = [f.lead_days for f in flagged_misses]
    with_cause = cause_recall = None
    if causes is not None:

        def caused(outcome: QuotaOutcome) -> bool:
            start = causes.get(outcome.rep_crm_id)
            return start is not None and start <= outcome.period_end

        with_cause = sum(1 for f in flags if caused(f.outcome))
        caused_misses = [o for o in misses if caused(o)]
        flagged_outcomes = {f.outcome for f in flagged_misses}
        cause_recall = _ratio(
            sum(1 for o in caused_misses if o in flagged_outcomes), len(caused_misses)
        )
    return Score(
        rule_key=key,
        rep_periods=len(outcomes),
        misses=len(misses),
        flagged=len(flags),
        flagged_misses=len(flagged_misses),
        recall=_ratio(len(flagged_misses), len(misses)),
        precision=_ratio(len(flagged_misses), len(flags)),
        median_lead_days=statistics.median(leads) if leads else None,
        findings_per_manager_week=load.findings if load else 0.0,
        tasks_per_manager_week=load.tasks if load else 0.0,
        hygiene_per_rep_week=load.hygiene if load else 0.0,
        flagged_with_cause=with_cause,
        cause_precision=None if with_cause is None else _ratio(with_cause, len(flags)),
        cause_recall=cause_recall,
    )


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


# ------------------------------------------------------------------ activity -> result


@dataclass(frozen=True, slots=True)
class Chain:
    """How one activity or objective rule's value went with what it should drive, in one
    team (``team`` None: the whole org): correlations over rep-periods of the rule's
    mean value, with the quota attainment (also over the first half of each period:
    how early it tells), and, for an activity rule, with each objective rule's mean."""

    rule_key: str
    level: str
    drives: str
    team: str | None
    rep_periods: int
    with_result: float | None
    early_with_result: float | None
    with_objectives: tuple[tuple[str, float | None], ...] = ()


_Means = dict[str, dict[QuotaOutcome, tuple[float, float]]]


def activity_chain(
    rules: Sequence[VersionedRule], steps: Sequence[Step], outcomes: Sequence[QuotaOutcome]
) -> list[Chain]:
    """The activity -> objective -> result chain, per rule and team (see :class:`Chain`)."""
    teams = {rep.crm_id: rep.team for step in steps for rep in step.reps}
    chained = [r for r in rules if r.document.level.value in ("activity", "objective")]
    objectives = [r.key for r in chained if r.document.level.value == "objective"]
    means: _Means = {rule.key: {} for rule in chained}
    for rule in chained:
        for outcome in outcomes:
            values = _observed(rule.key, outcome, steps)
            if values and outcome.attainment is not None:
                early = values[: max(1, len(values) // 2)]
                means[rule.key][outcome] = (statistics.fmean(values), statistics.fmean(early))
    chains = []
    for rule in chained:
        groups: dict[str | None, list[QuotaOutcome]] = defaultdict(list)
        for outcome in means[rule.key]:
            groups[None].append(outcome)
            team = teams.get(outcome.rep_crm_id)
            if team is not None:
                groups[team].append(outcome)
        activity = rule.document.level.value == "activity"
        for team, group in sorted(groups.items(), key=lambda item: (item[0] is not None,
                                                                     item[0] or "")):  # fmt: skip
            chains.append(_chain(rule, team, group, means, objectives if activity else []))
    return chains


def _chain(
    rule: VersionedRule,
    team: str | None,
    group: Sequence[QuotaOutcome],
    means: _Means,
    objectives: Sequence[str],
) -> Chain:
    mine = means[rule.key]
    results = [o.attainment or 0.0 for o in group]
    linked = []
    for objective in objectives:
        both = [o for o in group if o in means[objective]]
        ours = [mine[o][0] for o in both]
        theirs = [means[objective][o][0] for o in both]
        linked.append((objective, _correlation(ours, theirs)))
    return Chain(
        rule.key,
        rule.document.level.value,
        rule.document.drives,
        team,
        len(group),
        _correlation([mine[o][0] for o in group], results),
        _correlation([mine[o][1] for o in group], results),
        tuple(linked),
    )


def _observed(rule_key: str, outcome: QuotaOutcome, steps: Sequence[Step]) -> list[float]:
    values = []
    for step in steps:
        if outcome.starts_at < step.as_of < outcome.ends_at:
            cell = step.plan.scorecard.cell(outcome.rep_crm_id, rule_key)
            if cell is not None and cell.value is not None:
                values.append(cell.value)
    return values


def _correlation(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Pearson's r; None for fewer than three points or no spread."""
    if len(xs) < 3:
        return None
    try:
        r = statistics.correlation(xs, ys)
    except statistics.StatisticsError:
        return None
    return None if math.isnan(r) else r
