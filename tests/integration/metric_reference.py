"""The metric catalogue implemented once more, in plain Python over the fixture rows.

Written from the definitions in ``rules/metrics.py``, deliberately naively (loops over
every period, deal and activity), so that the SQL implementation is checked against an
independent reading of the same words rather than against itself.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from rules.metrics import (
    ActiveDays,
    ActivityCount,
    CloseDatePushes,
    DaysInStage,
    DaysSinceActivity,
    MeetingsHeld,
    MetricSeries,
    MetricSpec,
    Observation,
    PipelineCoverage,
    PipelineCreated,
    QualificationCompleteness,
    QuotaPace,
    StageDuration,
    SubjectKey,
    WinRate,
)
from rules.periods import Period
from tests.integration.metric_facts import Facts, Stint, days, money, top
from tests.integration.metric_fixtures import Row


class Reference(Facts):
    """Every metric of the catalogue, computed from the facts."""

    def measure(self, spec: MetricSpec, periods: Sequence[Period]) -> MetricSeries:
        handlers: Mapping[type[Any], Callable[[Any, Sequence[Period]], MetricSeries]] = {
            ActivityCount: self.activity_count,
            MeetingsHeld: self.meetings_held,
            ActiveDays: self.active_days,
            PipelineCreated: self.pipeline_created,
            PipelineCoverage: self.pipeline_coverage,
            QuotaPace: self.quota_pace,
            WinRate: self.win_rate,
            StageDuration: self.stage_duration,
            DaysInStage: self.days_in_stage,
            QualificationCompleteness: self.qualification,
            DaysSinceActivity: self.days_since_activity,
            CloseDatePushes: self.close_date_pushes,
        }
        return handlers[type(spec)](spec, periods)

    def activity_count(self, spec: ActivityCount, periods: Sequence[Period]) -> MetricSeries:
        def wanted(a: Row) -> bool:
            outcome = None if a["outcome"] is None else a["outcome"].lower()
            return (
                (not spec.kinds or a["kind"] in spec.kinds)
                and (not spec.subtypes or a["subtype"] in spec.subtypes)
                and (not spec.outcomes or outcome in [o.lower() for o in spec.outcomes])
                and (outcome is None or outcome not in [o.lower() for o in spec.exclude_outcomes])
            )

        return self._count(periods, wanted)

    def meetings_held(self, spec: MeetingsHeld, periods: Sequence[Period]) -> MetricSeries:
        excluded = [o.lower() for o in spec.exclude_outcomes]
        return self._count(
            periods,
            lambda a: (
                a["kind"] == "meeting"
                and (a["outcome"] is None or a["outcome"].lower() not in excluded)
            ),
        )

    def active_days(self, spec: ActiveDays, periods: Sequence[Period]) -> MetricSeries:
        first = min(p.start for p in periods)

        def zone_of(rep: str) -> Any:
            zone = self.reps.get(rep, {}).get("time_zone")
            return ZoneInfo(zone).utcoffset(first.replace(tzinfo=None)) if zone else None

        days: dict[SubjectKey, list[set[date]]] = {}
        for idx, p in enumerate(periods):
            for a in self.fx.activities:
                if not (
                    p.start <= a["occurred_at"] < p.end and self.rep_alive(a["rep_crm_id"], p.end)
                ):
                    continue
                if a["deleted_at"] is not None and a["deleted_at"] <= p.end:
                    continue
                slots = days.setdefault(SubjectKey(a["rep_crm_id"]), [set() for _ in periods])
                offset = zone_of(a["rep_crm_id"]) or timedelta(0)
                slots[idx].add((a["occurred_at"].astimezone(UTC) + offset).date())
        return {
            key: [Observation(float(len(found)), len(found)) for found in slots]
            for key, slots in days.items()
        }

    def _count(self, periods: Sequence[Period], wanted: Callable[[Row], bool]) -> MetricSeries:
        counts: dict[SubjectKey, list[Observation | None]] = {}
        for idx, p in enumerate(periods):
            for a in self.fx.activities:
                if not (
                    p.start <= a["occurred_at"] < p.end and self.rep_alive(a["rep_crm_id"], p.end)
                ):
                    continue
                if (a["deleted_at"] is not None and a["deleted_at"] <= p.end) or not wanted(a):
                    continue
                slots = counts.setdefault(
                    SubjectKey(a["rep_crm_id"]), [Observation(0.0, 0)] * len(periods)
                )
                previous = slots[idx]
                n = (previous.sample if previous else 0) + 1
                slots[idx] = Observation(float(n), n)
        return counts

    def pipeline_created(self, spec: PipelineCreated, periods: Sequence[Period]) -> MetricSeries:
        grouped = self._group(
            periods,
            lambda p: [
                d for d in self.live_deals(p.end) if p.start <= d["created_in_crm_at"] < p.end
            ],
        )

        def observe(p: Period, deals: list[Row]) -> Observation:
            amount = sum(money(self.value_at(d, "amount", p.end)) for d in deals)
            return Observation(
                value=float(len(deals)) if spec.measure == "count" else amount,
                sample=len(deals),
                parts={"count": float(len(deals)), "amount": amount},
                deals=top(deals, lambda d: self.value_at(d, "amount", p.end)),
            )

        empty = Observation(0.0, 0, parts={"count": 0.0, "amount": 0.0})
        return self._series(periods, grouped, observe, empty)

    def quota_at(self, rep: str, p: Period) -> Row | None:
        day, t = p.last_day, p.end
        found = [
            q
            for q in self.fx.quotas
            if q["rep_crm_id"] == rep
            and q["period_start"] <= day <= q["period_end"]
            and (q["deleted_at"] is None or q["deleted_at"] > t)
        ]
        return max(found, key=lambda q: q["updated_at"]) if found else None

    def _quota_totals(self, p: Period, rep: str, quota: Row) -> dict[str, Any]:
        open_deals, won, weighted = [], 0.0, 0.0
        for d in self.live_deals(p.end):
            if d["owner_crm_id"] != rep:
                continue
            close = self.value_at(d, "close_date", p.end)
            category = self.stage_at(d, p.end).category
            if close is None or not quota["period_start"] <= close <= quota["period_end"]:
                continue
            amount = money(self.value_at(d, "amount", p.end))
            if category == "won":
                won += amount
            elif category == "open":
                open_deals.append(d)
                probability = money(self.value_at(d, "probability", p.end))
                weighted += amount * probability / 100
        return {
            "open": open_deals,
            "open_amount": sum(money(self.value_at(d, "amount", p.end)) for d in open_deals),
            "won": won,
            "weighted": weighted,
            "quota": money(quota["amount"]),
            "deals": top(open_deals, lambda d: self.value_at(d, "amount", p.end)),
        }

    def _by_quota(
        self, periods: Sequence[Period], observe: Callable[[dict[str, Any], Row], Observation]
    ) -> MetricSeries:
        out: dict[SubjectKey, list[Observation | None]] = {}
        for idx, p in enumerate(periods):
            for rep in self.reps:
                quota = self.quota_at(rep, p) if self.rep_alive(rep, p.end) else None
                if quota is None:
                    continue
                totals = self._quota_totals(p, rep, quota)
                out.setdefault(SubjectKey(rep), [None] * len(periods))[idx] = observe(totals, quota)
        return out

    def pipeline_coverage(self, spec: PipelineCoverage, periods: Sequence[Period]) -> MetricSeries:
        def observe(t: dict[str, Any], quota: Row) -> Observation:
            remaining = t["quota"] - t["won"]
            return Observation(
                value=t["open_amount"] / remaining if remaining > 0 else None,
                sample=len(t["open"]),
                parts={
                    "open_amount": t["open_amount"],
                    "won_amount": t["won"],
                    "quota": t["quota"],
                    "remaining": remaining,
                },
                deals=t["deals"],
                period_start=quota["period_start"],
                period_end=quota["period_end"],
            )

        return self._by_quota(periods, observe)

    def quota_pace(self, spec: QuotaPace, periods: Sequence[Period]) -> MetricSeries:
        def observe(t: dict[str, Any], quota: Row) -> Observation:
            return Observation(
                value=None,
                sample=len(t["open"]),
                parts={"won_amount": t["won"], "weighted_open": t["weighted"], "quota": t["quota"]},
                deals=t["deals"],
                period_start=quota["period_start"],
                period_end=quota["period_end"],
            )

        return self._by_quota(periods, observe)

    def win_rate(self, spec: WinRate, periods: Sequence[Period]) -> MetricSeries:
        def closed(p: Period) -> list[Row]:
            since = p.end - timedelta(days=spec.trailing_days)
            found = []
            for d in self.live_deals(p.end):
                state = self.stage_at(d, p.end)
                at = state.closed_change_at
                if state.category in ("won", "lost") and at is not None and since <= at < p.end:
                    found.append(d)
            return found

        def observe(p: Period, deals: list[Row]) -> Observation:
            def weight(d: Row) -> float:
                return money(self.value_at(d, "amount", p.end)) if spec.measure == "amount" else 1.0

            won = sum(weight(d) for d in deals if self.stage_at(d, p.end).category == "won")
            lost = sum(weight(d) for d in deals if self.stage_at(d, p.end).category == "lost")
            ok = len(deals) >= spec.min_sample and won + lost > 0
            return Observation(
                value=won / (won + lost) if ok else None,
                sample=len(deals),
                parts={"won": won, "lost": lost},
            )

        return self._series(periods, self._group(periods, closed), observe, None)

    def _window_stints(
        self, p: Period, trailing_days: int, deals: Iterable[Row]
    ) -> list[tuple[Row, Stint]]:
        since = p.end - timedelta(days=trailing_days)
        return [
            (d, s)
            for d in deals
            for s in self.stints(d)
            if s.end is not None and since <= s.end < p.end
        ]

    def stage_duration(self, spec: StageDuration, periods: Sequence[Period]) -> MetricSeries:
        out: dict[SubjectKey, list[Observation | None]] = {}
        for idx, p in enumerate(periods):
            by_rep: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
            for d, s in self._window_stints(p, spec.trailing_days, self.live_deals(p.end)):
                if (s.stage in spec.stages) if spec.stages else s.category == "open":
                    by_rep[d["owner_crm_id"]][s.stage].append(days(s.end, s.start))  # type: ignore[arg-type]
            for rep, stages in by_rep.items():
                lengths = [x for values in stages.values() for x in values]
                out.setdefault(SubjectKey(rep), [None] * len(periods))[idx] = Observation(
                    value=sum(lengths) / len(lengths),
                    sample=len(lengths),
                    parts={stage: statistics.fmean(v) for stage, v in stages.items()},
                )
        return out

    def days_in_stage(self, spec: DaysInStage, periods: Sequence[Period]) -> MetricSeries:
        def observe(p: Period, d: Row) -> Observation:
            state = self.stage_at(d, p.end)
            existing = [x for x in self.deals.values() if self.deal_exists(x, p.end)]
            lengths = [
                days(s.end, s.start)  # type: ignore[arg-type]
                for _, s in self._window_stints(p, spec.trailing_days, existing)
                if s.stage == state.stage
            ]
            parts = {"amount": money(self.value_at(d, "amount", p.end))}
            if len(lengths) >= spec.min_sample:
                parts["stage_median_days"] = statistics.median(lengths)
            value = None if state.entered_at is None else days(p.end, state.entered_at)
            return Observation(value=value, sample=1, parts=parts, detail=state.stage)

        return self._per_open_deal(periods, observe)

    def qualification(
        self, spec: QualificationCompleteness, periods: Sequence[Period]
    ) -> MetricSeries:
        def complete(d: Row) -> bool:
            q = d["qualification"]
            return all(q.get(name) is not None and q.get(name) != "" for name in spec.fields)

        def in_stages(p: Period) -> list[Row]:
            return [
                d
                for d in self.live_deals(p.end)
                if self.is_open(d, p.end) and self.stage_at(d, p.end).stage in spec.stages
            ]

        def observe(p: Period, deals: list[Row]) -> Observation:
            done = sum(1 for d in deals if complete(d))
            return Observation(
                value=done / len(deals),
                sample=len(deals),
                parts={"complete": float(done)},
                deals=top(
                    [d for d in deals if not complete(d)],
                    lambda d: self.value_at(d, "amount", p.end),
                ),
            )

        return self._series(periods, self._group(periods, in_stages), observe, None)

    def days_since_activity(
        self, spec: DaysSinceActivity, periods: Sequence[Period]
    ) -> MetricSeries:
        def observe(p: Period, d: Row) -> Observation:
            times = [
                a["occurred_at"]
                for a in self.fx.activities
                if a["opportunity_crm_id"] == d["crm_id"]
                and a["occurred_at"] <= p.end
                and (a["deleted_at"] is None or a["deleted_at"] > p.end)
            ]
            since = max(times) if times else d["created_in_crm_at"]
            return Observation(
                value=None if since is None else days(p.end, since),
                sample=1,
                parts={"amount": money(self.value_at(d, "amount", p.end))},
            )

        return self._per_open_deal(periods, observe)

    def close_date_pushes(self, spec: CloseDatePushes, periods: Sequence[Period]) -> MetricSeries:
        def observe(p: Period, d: Row) -> Observation:
            pushes, pushed_days = self.pushes_at(d, p.end)
            return Observation(
                value=float(pushes),
                sample=1,
                parts={
                    "amount": money(self.value_at(d, "amount", p.end)),
                    "days_pushed": pushed_days,
                },
            )

        return self._per_open_deal(periods, observe)

    # -------------------------------------------------------------- shaping

    def _group(
        self, periods: Sequence[Period], select: Callable[[Period], list[Row]]
    ) -> list[dict[str, list[Row]]]:
        grouped: list[dict[str, list[Row]]] = []
        for p in periods:
            by_rep: dict[str, list[Row]] = defaultdict(list)
            for d in select(p):
                by_rep[d["owner_crm_id"]].append(d)
            grouped.append(by_rep)
        return grouped

    def _series(
        self,
        periods: Sequence[Period],
        grouped: list[dict[str, list[Row]]],
        observe: Callable[[Period, list[Row]], Observation],
        empty: Observation | None,
    ) -> MetricSeries:
        out: dict[SubjectKey, list[Observation | None]] = {}
        for idx, (p, by_rep) in enumerate(zip(periods, grouped, strict=True)):
            for rep, deals in by_rep.items():
                out.setdefault(SubjectKey(rep), [empty] * len(periods))[idx] = observe(p, deals)
        return out

    def _per_open_deal(
        self, periods: Sequence[Period], observe: Callable[[Period, Row], Observation]
    ) -> MetricSeries:
        out: dict[SubjectKey, list[Observation | None]] = {}
        for idx, p in enumerate(periods):
            for d in self.live_deals(p.end):
                if self.is_open(d, p.end):
                    key = SubjectKey(d["owner_crm_id"], d["crm_id"])
                    out.setdefault(key, [None] * len(periods))[idx] = observe(p, d)
        return out
