"""The default rule pack: every document loads, keys are unique, defaults are sourced."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from rules.documents import RuleDocument, VersionedRule, load_rule
from rules.evaluation import CoachingHistory, evaluate
from rules.fake_source import FakeMetricSource
from tests.unit.rules_support import AS_OF, manager, rep

PACK = Path(__file__).resolve().parents[2] / "rules" / "packs" / "default"
FILES = sorted(PACK.glob("*.yaml"))


def load(path: Path) -> RuleDocument:
    return load_rule(yaml.safe_load(path.read_text(encoding="utf-8")))


def test_the_pack_has_the_rules_the_framework_needs():
    metrics = {load(path).metric.metric for path in FILES}
    assert metrics >= {
        "activity_count",
        "meetings_held",
        "pipeline_created",
        "days_since_activity",
        "days_in_stage",
        "close_date_pushes",
        "qualification_completeness",
        "pipeline_coverage",
        "quota_pace",
        "win_rate",
    }


@pytest.mark.parametrize("path", FILES, ids=[path.stem for path in FILES])
def test_each_rule_document_is_valid_and_named_after_its_file(path: Path):
    assert load(path).key == path.stem


@pytest.mark.parametrize("path", FILES, ids=[path.stem for path in FILES])
def test_each_rule_document_cites_the_source_of_its_defaults(path: Path):
    header = path.read_text(encoding="utf-8").split("\nkey:")[0]
    assert "Sources for the defaults" in header


def test_rule_keys_are_unique():
    keys = [load(path).key for path in FILES]
    assert len(keys) == len(set(keys))


def test_every_level_of_the_framework_is_covered():
    assert {load(path).level.value for path in FILES} == {"activity", "objective", "result"}


def test_the_whole_pack_evaluates_against_an_org_with_no_data():
    rules = [VersionedRule(load(path), 1) for path in FILES]
    reps = [manager(), rep("r1", team="west"), rep("r2", team="west")]
    plan = evaluate(rules, FakeMetricSource(reps), [], CoachingHistory(), AS_OF)
    assert set(plan.scorecard.rule_keys) == {path.stem for path in FILES}
    assert [row.rep_crm_id for row in plan.scorecard.rows] == ["r1", "r2"]
