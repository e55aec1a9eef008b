"""Which of a kept finding's values count as changed (no database: the comparison)."""

from types import SimpleNamespace

from service.store.plan_writer import _changed

STORED = SimpleNamespace(
    severity="high",
    observed=2.0,
    evidence={"deals": [{"crm_id": "006A"}], "periods": [1.0, 2.0]},
)


def test_an_unchanged_document_is_not_a_change_even_with_tuples_where_json_has_lists():
    new = {
        "severity": "high",
        "observed": 2,
        "evidence": {"deals": ({"crm_id": "006A"},), "periods": (1.0, 2.0)},
    }
    assert _changed(STORED, new) == {}


def test_changed_values_are_returned_and_documents_as_json_gives_them_back():
    new = {"severity": "low", "observed": 2.0, "evidence": {"deals": ("006B",), "periods": ()}}
    assert _changed(STORED, new) == {
        "severity": "low",
        "evidence": {"deals": ["006B"], "periods": []},
    }
    assert isinstance(_changed(STORED, new)["evidence"]["deals"], list)
