"""When a kept finding's stored values count as changed (no database: the comparison)."""

from service.store.findings_repo import _differs


def test_an_unchanged_document_is_not_a_change_even_with_tuples_where_json_has_lists():
    stored = {"deals": [{"crm_id": "006A"}], "periods": [1.0, 2.0]}
    new = {"deals": ({"crm_id": "006A"},), "periods": (1.0, 2.0)}
    assert not _differs(stored, new, document=True)
    assert not _differs(stored, dict(stored), document=True)


def test_a_changed_document_or_value_is_a_change():
    assert _differs({"observed": 3.0}, {"observed": 4.0}, document=True)
    assert _differs({"deals": ["006A"]}, {"deals": ("006B",)}, document=True)
    assert _differs(2, 3, document=False)
    assert not _differs(2.0, 2, document=False)
