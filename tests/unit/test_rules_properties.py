"""Property tests: whatever a document contains, loading it gives a rule or a ValidationError.

Rule documents come from people and from API clients; a crash other than a validation
error would surface as a 500 or a stack trace in the CLI. Hypothesis feeds random JSON
values, random dicts over the document's own field names, and valid documents with random
mutations (values replaced, keys dropped, unknown keys added) at any depth.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from rules.documents import RuleDocument, load_rule
from rules.drift import Bounds, judge
from rules.policies import DriftPolicy
from tests.unit.rules_support import BASE_DOCUMENT, DEAL_DOCUMENT

PACK = Path(__file__).resolve().parents[2] / "rules" / "packs" / "default"
VALID = [BASE_DOCUMENT, DEAL_DOCUMENT] + [
    yaml.safe_load(path.read_text(encoding="utf-8")) for path in sorted(PACK.glob("*.yaml"))
]
FIELDS = sorted(RuleDocument.model_fields)
WORDS = st.sampled_from(
    [*FIELDS, "min", "max", "basis", "k", "n", "unit", "metric", "kinds", "teams", "reps",
     "assignee", "subject_template", "{rep_name}", "{deal_name}", "{x.y}", "", "stage_median"]
)  # fmt: skip

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30)
    | WORDS
)
JSON = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=12) | WORDS, inner, max_size=4)
    ),
    max_leaves=12,
)

PROPERTY_SETTINGS = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def loads_or_refuses(data: object) -> None:
    """Only a model or a ValidationError (with at least one located error) may come out."""
    outcome: RuleDocument | ValidationError
    try:
        outcome = load_rule(data)
    except ValidationError as error:
        outcome = error
    if isinstance(outcome, ValidationError):
        assert outcome.errors()
    else:
        assert isinstance(outcome, RuleDocument)


@PROPERTY_SETTINGS
@given(JSON)
def test_any_json_value_gives_a_rule_or_a_validation_error(data: object):
    loads_or_refuses(data)


@PROPERTY_SETTINGS
@given(st.dictionaries(st.sampled_from(FIELDS), JSON, max_size=len(FIELDS)))
def test_any_dict_over_the_document_fields_gives_a_rule_or_a_validation_error(
    data: dict[str, Any],
):
    loads_or_refuses(data)


def _containers(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Paths to every dict and list inside ``node`` (the root included)."""
    found: list[tuple[Any, ...]] = []
    if isinstance(node, dict | list):
        found.append(path)
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, child in items:
            found.extend(_containers(child, (*path, key)))
    return found


def _at(node: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        node = node[key]
    return node


@st.composite
def mutated_documents(draw: st.DrawFn) -> dict[str, Any]:
    document: dict[str, Any] = copy.deepcopy(draw(st.sampled_from(VALID)))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        target = _at(document, draw(st.sampled_from(_containers(document))))
        keys = list(target) if isinstance(target, dict) else list(range(len(target)))
        action = draw(st.sampled_from(["replace", "drop", "add"]))
        if action == "add" or not keys:
            if isinstance(target, dict):
                target[draw(WORDS | st.text(max_size=8))] = draw(JSON)
            else:
                target.append(draw(JSON))
        elif action == "drop":
            del target[draw(st.sampled_from(keys))]
        else:
            target[draw(st.sampled_from(keys))] = draw(JSON)
    return document


@PROPERTY_SETTINGS
@given(mutated_documents())
def test_mutated_valid_documents_give_a_rule_or_a_validation_error(data: dict[str, Any]):
    loads_or_refuses(data)


def test_the_valid_documents_the_mutations_start_from_are_valid():
    for document in VALID:
        assert isinstance(load_rule(document), RuleDocument)


@PROPERTY_SETTINGS
@given(
    st.lists(st.floats(min_value=0, max_value=100), min_size=3, max_size=12),
    st.integers(min_value=0),
)
def test_a_single_bad_period_never_makes_drift(values: list[float], bad_index: int):
    """All periods inside except one (anywhere, however far out): never drift, trend or not."""
    policy = DriftPolicy(k=2, n=3, trend_horizon=2)
    series: list[float | None] = [50.0] * len(values)
    series[bad_index % len(values)] = values[bad_index % len(values)] - 100
    bounds = [Bounds(10.0, None)] * len(series)
    assert not judge(series, bounds, policy).drifting
