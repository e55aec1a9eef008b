"""The fake Salesforce's SOQL engine: syntax, binding, filtering, ordering and record shapes.

Runs against a small in-memory org. ``NOW`` is Wednesday 2026-01-07 15:30 UTC; in the
default locale weeks start on Sunday, so THIS_WEEK is Sunday 4 to Saturday 10 January.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from sandbox.salesforce.schema import CATALOG
from sandbox.salesforce.soql import (
    QueryResult,
    SoqlError,
    bind,
    execute,
    parse,
)
from sandbox.salesforce.soql import executor as soql_executor

NOW = datetime(2026, 1, 7, 15, 30, tzinfo=UTC)
LOS_ANGELES = ZoneInfo("America/Los_Angeles")


class FakeOrg:
    """An in-memory RowSource: rows keyed by canonical field names, ids by key prefix."""

    def __init__(self) -> None:
        self.tables: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in CATALOG}
        self.get_calls = 0

    def add(self, sobject: str, **values: Any) -> str:
        spec = CATALOG[sobject]
        table = self.tables[sobject]
        record_id = values.pop("Id", None) or f"{spec.key_prefix}8W{len(table) + 1:010d}AAA"
        row: dict[str, Any] = {field.name: None for field in spec.fields}
        stamp = datetime(2026, 1, 1, tzinfo=UTC)
        row.update(IsDeleted=False, CreatedDate=stamp, SystemModstamp=stamp, Id=record_id)
        row.update(values)
        table[record_id] = row
        return record_id

    def rows(self, sobject: str, *, include_deleted: bool) -> Iterable[Mapping[str, Any]]:
        rows = list(self.tables[sobject].values())
        return rows if include_deleted else [row for row in rows if not row["IsDeleted"]]

    def get(self, sobject: str, record_id: str) -> Mapping[str, Any] | None:
        self.get_calls += 1
        return self.tables[sobject].get(record_id)


def run(org: FakeOrg, text: str, **options: Any) -> QueryResult:
    options.setdefault("now", NOW)
    options.setdefault("include_deleted", False)
    return execute(bind(parse(text)), org, **options)


def soql(*parts: str) -> str:
    """Joins query fragments (keeps the parametrised tests free of string formatting)."""
    return " ".join(parts)


def names(result: QueryResult, key: str = "Name") -> list[Any]:
    return [record[key] for record in result.records]


def error(text: str) -> SoqlError:
    with pytest.raises(SoqlError) as caught:
        bind(parse(text))
    return caught.value


@pytest.fixture
def org() -> FakeOrg:
    """Two users (Ada reports to Grace), an account and four opportunities."""
    org = FakeOrg()
    grace = org.add("User", Name="Grace Hopper", LastName="Hopper")
    ada = org.add("User", Name="Ada Lovelace", LastName="Lovelace", ManagerId=grace)
    account = org.add("Account", Name="Analytical Engines")
    common = {"AccountId": account, "IsClosed": False}
    org.add("Opportunity", Name="Alpha", StageName="Prospecting", Amount=1000.0, OwnerId=ada,
            CloseDate=date(2026, 1, 5), Probability=10.0, **common)  # fmt: skip
    org.add("Opportunity", Name="beta", StageName="Negotiation/Review", Amount=5000.0,
            OwnerId=grace, CloseDate=date(2026, 2, 1), Probability=90.0, **common)  # fmt: skip
    org.add("Opportunity", Name="Gamma", StageName="Closed Won", Amount=None, OwnerId=ada,
            CloseDate=date(2025, 12, 31), IsWon=True, IsClosed=True)  # fmt: skip
    org.add("Opportunity", Name="Delta", StageName="Qualification", Amount=250.5, OwnerId=None,
            CloseDate=date(2026, 1, 7), Budget_Confirmed__c=True)  # fmt: skip
    return org


# ---------------------------------------------------------------- syntax


def test_keywords_are_case_insensitive(org: FakeOrg):
    result = run(org, "select name from OPPORTUNITY where AMOUNT > 2000 Order By name Limit 5")
    assert names(result) == ["beta"]


def test_an_unexpected_token_is_reported_with_row_and_column():
    caught = error("SELECT Id FORM Opportunity")
    assert caught.error_code == "MALFORMED_QUERY"
    assert caught.message == (
        "\nSELECT Id FORM Opportunity\n          ^\nERROR at Row:1:Column:11\n"
        "unexpected token: 'FORM'"
    )


def test_an_error_on_a_later_line_reports_that_row():
    caught = error("SELECT Id\nFROM Opportunity\nWHERE Amount >")
    assert "ERROR at Row:3:Column:15" in caught.message
    assert caught.message.endswith("unexpected token: <EOF>")


@pytest.mark.parametrize(
    "query",
    [
        "SELECT Id Opportunity",  # missing FROM
        "SELECT Id",
        "SELECT FROM Opportunity",
        "SELECT Id, FROM Opportunity",
        "SELECT Id FROM Opportunity WHERE",  # dangling WHERE
        "SELECT Id FROM Opportunity WHERE Name",
        "SELECT Id FROM Opportunity WHERE Name =",
        "SELECT Id FROM Opportunity WHERE (Name = 'a'",  # unclosed parenthesis
        "SELECT Id FROM Opportunity WHERE Name IN ('a', 'b'",
        "SELECT Id FROM Opportunity WHERE Name IN ()",
        "SELECT Id FROM Opportunity WHERE Name = 'a' Amount = 1",
        "SELECT Id FROM Opportunity ORDER Name",
        "SELECT Id FROM Opportunity ORDER BY Name NULLS",
        "SELECT Id FROM Opportunity LIMIT",
        "SELECT Id FROM Opportunity LIMIT 1.5",
        "SELECT Id FROM Opportunity LIMIT -1",
        "SELECT Id FROM Opportunity LIMIT 5 LIMIT 6",
        "SELECT Id FROM Opportunity OFFSET 1 LIMIT 5",  # clauses out of order
        'SELECT Id FROM Opportunity WHERE Name = "double quotes"',
        "SELECT Id FROM Opportunity WHERE Name = 'unterminated",
        "SELECT Id FROM Opportunity WHERE CloseDate = 2026-13-01",  # bad literal
        "SELECT Id FROM Opportunity WHERE CreatedDate > 2026-01-05T09:00:00",  # no offset
        "SELECT Id FROM Opportunity WHERE CloseDate = SOMEDAY",
        "SELECT Id FROM Opportunity WHERE CloseDate = LAST_N_DAYS",
        "SELECT Id FROM Opportunity WHERE CloseDate = LAST_N_DAYS:x",
        "SELECT Id, COUNT() FROM Opportunity",
        "SELECT COUNT(), Id FROM Opportunity",
    ],
)
def test_bad_syntax_is_a_malformed_query(query: str):
    caught = error(query)
    assert caught.error_code == "MALFORMED_QUERY"
    assert "ERROR at Row:1:Column:" in caught.message


def test_a_missing_parenthesis_is_named():
    caught = error("SELECT Id FROM Opportunity WHERE (Name = 'a' LIMIT 1")
    assert caught.message.endswith("expecting a right parentheses, found 'LIMIT'")


def test_an_unknown_string_escape_is_a_malformed_query():
    caught = error(r"SELECT Id FROM Opportunity WHERE Name = 'a\qb'")
    assert caught.error_code == "MALFORMED_QUERY"
    assert "Illegal character sequence '\\q'" in caught.message


@pytest.mark.parametrize(
    ("where", "bad_token"),
    [
        ("Name = 'a' AND Name = 'b' OR Name = 'c'", "OR"),
        ("Name = 'a' OR Name = 'b' AND Name = 'c'", "AND"),
        ("NOT Name = 'a' AND Amount > 1", "AND"),
        ("Amount > 1 AND NOT Name = 'a'", "NOT"),
    ],
)
def test_mixing_logical_operators_without_parentheses_is_refused(where: str, bad_token: str):
    caught = error(soql("SELECT Id FROM Opportunity WHERE", where))
    assert caught.error_code == "MALFORMED_QUERY"
    assert caught.message.endswith(f"unexpected token: '{bad_token}'")


@pytest.mark.parametrize(
    ("query", "feature"),
    [
        ("SELECT StageName FROM Opportunity GROUP BY StageName", "GROUP BY"),
        ("SELECT Id, (SELECT Id FROM Histories) FROM Opportunity", "subquery"),
        ("SELECT COUNT(Id) FROM Opportunity", "COUNT()"),
        ("SELECT MAX(Amount) FROM Opportunity", "MAX()"),
        ("SELECT toLabel(StageName) FROM Opportunity", "toLabel()"),
        ("SELECT TYPEOF What WHEN Account THEN Name END FROM Task", "TYPEOF"),
        ("SELECT Id FROM Opportunity WITH SECURITY_ENFORCED", "WITH"),
        ("SELECT Id FROM Opportunity FOR UPDATE", "FOR UPDATE"),
        ("SELECT Id FROM Opportunity USING SCOPE mine", "USING SCOPE"),
        ("SELECT Id FROM Task WHERE WhatId IN (SELECT Id FROM Opportunity)", "semi-join"),
        ("SELECT Id FROM Opportunity WHERE CALENDAR_YEAR(CloseDate) = 2026", "CALENDAR_YEAR()"),
        ("SELECT Id FROM Opportunity WHERE CloseDate = THIS_FISCAL_YEAR", "THIS_FISCAL_YEAR"),
        ("SELECT Id FROM Opportunity WHERE Name = :name", "bind variable"),
        ("SELECT Id FROM Opportunity WHERE Type INCLUDES ('a')", "INCLUDES"),
        ("SELECT Id FROM Opportunity ORDER BY MAX(Amount)", "MAX()"),
    ],
)
def test_unsupported_soql_is_refused_with_a_clear_message(query: str, feature: str):
    caught = error(query)
    assert caught.error_code == "MALFORMED_QUERY"
    assert feature in caught.message
    assert "not supported by the driftcoach Salesforce sandbox" in caught.message


# ---------------------------------------------------------------- binding


def test_an_unknown_object_is_an_invalid_type():
    caught = error("SELECT Id FROM Widget__c")
    assert caught.error_code == "INVALID_TYPE"
    assert "ERROR at Row:1:Column:16" in caught.message
    assert "sObject type 'Widget__c' is not supported." in caught.message


def test_an_unknown_field_is_an_invalid_field():
    caught = error("SELECT Id, Budget FROM Opportunity")
    assert caught.error_code == "INVALID_FIELD"
    assert "ERROR at Row:1:Column:12" in caught.message
    assert (
        "No such column 'Budget' on entity 'Opportunity'. If you are attempting to use a "
        "custom field, be sure to append the '__c'"
    ) in caught.message


def test_an_unknown_relationship_is_an_invalid_field():
    caught = error("SELECT Id, Boss.Name FROM Opportunity")
    assert caught.error_code == "INVALID_FIELD"
    assert "Didn't understand relationship 'Boss' in field path." in caught.message


def test_a_field_missing_on_the_related_object_names_that_object():
    caught = error("SELECT Owner.StageName FROM Opportunity")
    assert caught.error_code == "INVALID_FIELD"
    assert "No such column 'StageName' on entity 'User'" in caught.message


def test_a_relationship_name_alone_is_not_a_field():
    assert error("SELECT Owner FROM Opportunity").error_code == "INVALID_FIELD"


def test_an_unknown_field_in_where_or_order_by_is_an_invalid_field():
    assert error("SELECT Id FROM Task WHERE Colour = 'red'").error_code == "INVALID_FIELD"
    assert error("SELECT Id FROM Task ORDER BY Colour").error_code == "INVALID_FIELD"


def test_a_field_selected_twice_is_refused_whatever_its_case():
    caught = error("SELECT Id, Name, name FROM Opportunity")
    assert caught.error_code == "MALFORMED_QUERY"
    assert caught.message.endswith("duplicate field selected: Name")


def test_a_quoted_date_is_refused_as_salesforce_does():
    caught = error("SELECT Id FROM Opportunity WHERE CloseDate = '2026-01-05'")
    assert caught.error_code == "INVALID_FIELD"
    assert caught.message.endswith(
        "value of filter criterion for field 'CloseDate' must be of type date and should "
        "not be enclosed in quotes"
    )


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("CreatedDate > 2026-01-05", "'CreatedDate' must be of type dateTime"),
        ("CloseDate > 2026-01-05T00:00:00Z", "'CloseDate' must be of type date"),
        ("Amount = '1000'", "'Amount' must be of type double"),
        ("Amount > TODAY", "'Amount' must be of type double"),
        ("FiscalYear = 'x'", "'FiscalYear' must be of type integer"),
        ("IsWon = 'true'", "'IsWon' must be of type boolean"),
        ("Name = 5", "'Name' must be of type string and should be enclosed in quotes"),
        ("StageName = true", "'StageName' must be of type string"),
        ("Name LIKE 5", "'Name' must be of type string"),
        ("OwnerId = TODAY", "'OwnerId' must be of type string"),
    ],
)
def test_a_filter_value_of_the_wrong_type_is_an_invalid_field(where: str, expected: str):
    caught = error(soql("SELECT Id FROM Opportunity WHERE", where))
    assert caught.error_code == "INVALID_FIELD"
    assert expected in caught.message


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("Id = 'not-an-id'", "invalid ID field: not-an-id"),
        ("OwnerId IN ('005000000000001', 'x')", "invalid ID field: x"),
        ("Amount LIKE '1%'", "invalid operator on currency field"),
        ("OwnerId LIKE '005%'", "invalid operator on reference field"),
        ("IsWon > false", "invalid operator on boolean field"),
        ("Amount > null", "null can only be used with = and !="),
    ],
)
def test_an_operator_the_field_cannot_take_is_refused(where: str, expected: str):
    caught = error(soql("SELECT Id FROM Opportunity WHERE", where))
    assert caught.error_code == "INVALID_QUERY_FILTER_OPERATOR"
    assert expected in caught.message


def test_long_text_areas_can_be_neither_filtered_nor_sorted():
    filtered = error("SELECT Id FROM Task WHERE Description = 'x'")
    assert filtered.error_code == "INVALID_FIELD"
    assert filtered.message.endswith("field 'Description' can not be filtered in a query call")
    sorted_ = error("SELECT Id FROM Task ORDER BY Description")
    assert sorted_.message.endswith("field 'Description' can not be sorted in a query call")


def test_an_offset_over_2000_is_out_of_range(org: FakeOrg):
    caught = error("SELECT Id FROM Opportunity OFFSET 2001")
    assert caught.error_code == "NUMBER_OUTSIDE_VALID_RANGE"
    assert caught.message.endswith("Maximum SOQL offset allowed is 2000")
    assert run(org, "SELECT Id FROM Opportunity OFFSET 2000").records == []


def test_bind_resolves_names_through_the_given_catalogue():
    only_tasks = {"task": CATALOG["Task"]}
    bound = bind(parse("SELECT Subject FROM task"), only_tasks.get)
    assert bound.sobject.name == "Task"
    assert [field.spec.name for field in bound.select] == ["Subject"]
    with pytest.raises(SoqlError) as caught:
        bind(parse("SELECT Id FROM opportunity"), only_tasks.get)
    assert caught.value.error_code == "INVALID_TYPE"


# ---------------------------------------------------------------- record shape


def test_records_list_the_select_fields_in_order_after_their_attributes(org: FakeOrg):
    result = run(org, "SELECT stagename, NAME, amount FROM opportunity WHERE Name = 'alpha'")
    (record,) = result.records
    assert list(record) == ["attributes", "StageName", "Name", "Amount"]
    assert record["attributes"] == {
        "type": "Opportunity",
        "url": f"/services/data/v59.0/sobjects/Opportunity/{org_id(org, 'Alpha')}",
    }
    assert record["Name"] == "Alpha"
    assert record["Amount"] == 1000.0


def org_id(org: FakeOrg, name: str) -> str:
    return str(next(r["Id"] for r in org.tables["Opportunity"].values() if r["Name"] == name))


def test_record_urls_use_the_requested_api_version(org: FakeOrg):
    result = run(org, "SELECT Id FROM Opportunity LIMIT 1", api_version="62.0")
    assert result.records[0]["attributes"]["url"].startswith("/services/data/v62.0/sobjects/")


def test_dates_and_datetimes_come_out_in_salesforce_json_form(org: FakeOrg):
    org.add("Task", Subject="Call", ActivityDate=date(2026, 1, 5),
            CompletedDateTime=datetime(2026, 1, 5, 9, 30, 0, 250000, tzinfo=UTC))  # fmt: skip
    (record,) = run(org, "SELECT ActivityDate, CompletedDateTime, IsClosed FROM Task").records
    assert record["ActivityDate"] == "2026-01-05"
    assert record["CompletedDateTime"] == "2026-01-05T09:30:00.250+0000"
    assert record["IsClosed"] is None


def test_many_records_sharing_and_not_sharing_instants_each_get_their_own_text(
    org: FakeOrg, monkeypatch: pytest.MonkeyPatch
):
    """The renderer remembers wire forms; a memo that fills and clears must not mix them."""
    monkeypatch.setattr(soql_executor, "_MEMO_SIZE", 5)
    start = datetime(2026, 1, 5, 9, tzinfo=LOS_ANGELES)
    for minute in range(40):
        at = start + timedelta(minutes=minute % 13, milliseconds=minute)
        org.add("Task", Subject=str(minute), CompletedDateTime=at, ActivityDate=at.date(),
                CreatedDate=at, SystemModstamp=start)  # fmt: skip
    query = "SELECT Subject, CompletedDateTime, CreatedDate, SystemModstamp, ActivityDate FROM Task"
    for record in run(org, query).records:
        minute = int(record["Subject"])
        at = (start + timedelta(minutes=minute % 13, milliseconds=minute)).astimezone(UTC)
        text = at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}+0000"
        assert record["CompletedDateTime"] == record["CreatedDate"] == text
        assert record["SystemModstamp"] == "2026-01-05T17:00:00.000+0000"
        assert record["ActivityDate"] == "2026-01-05"


def test_relationship_fields_nest_under_the_relationship_name(org: FakeOrg):
    result = run(org, "SELECT Name, Owner.Name, Account.Name FROM Opportunity WHERE Name = 'beta'")
    (record,) = result.records
    assert list(record) == ["attributes", "Name", "Owner", "Account"]
    owner = record["Owner"]
    assert owner["attributes"]["type"] == "User"
    assert owner["attributes"]["url"].startswith("/services/data/v59.0/sobjects/User/005")
    assert owner["Name"] == "Grace Hopper"
    assert record["Account"]["Name"] == "Analytical Engines"


def test_fields_of_one_relationship_merge_into_one_nested_record(org: FakeOrg):
    query = "SELECT owner.name, Id, Owner.LastName FROM Opportunity WHERE Name = 'Alpha'"
    (record,) = run(org, query).records
    assert list(record) == ["attributes", "Owner", "Id"]
    assert list(record["Owner"]) == ["attributes", "Name", "LastName"]
    assert record["Owner"]["LastName"] == "Lovelace"


def test_two_level_paths_nest_twice(org: FakeOrg):
    query = "SELECT Owner.Manager.Name, Owner.Name FROM Opportunity WHERE Name = 'Alpha'"
    (record,) = run(org, query).records
    assert record["Owner"]["Manager"]["Name"] == "Grace Hopper"
    assert record["Owner"]["Manager"]["attributes"]["type"] == "User"
    assert record["Owner"]["Name"] == "Ada Lovelace"


def test_an_empty_reference_gives_a_null_relationship(org: FakeOrg):
    (delta,) = run(org, "SELECT Owner.Name FROM Opportunity WHERE Name = 'Delta'").records
    assert delta["Owner"] is None
    (beta,) = run(org, "SELECT Owner.Manager.Name FROM Opportunity WHERE Name = 'beta'").records
    assert beta["Owner"] == {"attributes": beta["Owner"]["attributes"], "Manager": None}


def test_a_reference_to_a_missing_record_gives_a_null_relationship(org: FakeOrg):
    org.add("Opportunity", Name="Orphan", OwnerId="005000000000099AAA")
    (record,) = run(org, "SELECT Owner.Name FROM Opportunity WHERE Name = 'Orphan'").records
    assert record["Owner"] is None


def test_a_deleted_parent_is_still_read_through_a_relationship(org: FakeOrg):
    gone = org.add("User", Name="Former Rep", IsDeleted=True)
    org.add("Opportunity", Name="Inherited", OwnerId=gone)
    (record,) = run(org, "SELECT Owner.Name FROM Opportunity WHERE Name = 'Inherited'").records
    assert record["Owner"]["Name"] == "Former Rep"


def test_a_polymorphic_reference_follows_the_ids_key_prefix(org: FakeOrg):
    account = next(iter(org.tables["Account"]))
    org.add("Task", Subject="Intro call", WhatId=account)
    org.add("Task", Subject="Demo", WhatId=org_id(org, "beta"))
    result = run(org, "SELECT Subject, What.Name FROM Task ORDER BY Subject")
    assert [(r["What"]["attributes"]["type"], r["What"]["Name"]) for r in result.records] == [
        ("Opportunity", "beta"),
        ("Account", "Analytical Engines"),
    ]


def test_parents_are_fetched_once_per_query(org: FakeOrg):
    for _ in range(20):
        org.add("Opportunity", Name="Bulk", OwnerId=org_id_user(org, "Ada Lovelace"))
    org.get_calls = 0
    run(org, "SELECT Owner.Name FROM Opportunity WHERE Owner.Name = 'Ada Lovelace'")
    assert org.get_calls == 2  # Ada and Grace, once each; Delta's empty owner never fetched


def org_id_user(org: FakeOrg, name: str) -> str:
    return str(next(r["Id"] for r in org.tables["User"].values() if r["Name"] == name))


# ---------------------------------------------------------------- COUNT() and deleted rows


def test_count_returns_no_records_and_the_count_as_total_size(org: FakeOrg):
    result = run(org, "SELECT COUNT() FROM Opportunity WHERE Amount > 500")
    assert result.records == []
    assert result.total_size == 2


def test_count_respects_limit_and_offset(org: FakeOrg):
    assert run(org, "SELECT count() FROM Opportunity LIMIT 3").total_size == 3
    assert run(org, "SELECT COUNT() FROM Opportunity LIMIT 3 OFFSET 2").total_size == 2
    assert run(org, "SELECT COUNT() FROM Opportunity OFFSET 9").total_size == 0


def test_deleted_rows_appear_only_when_deleted_rows_are_included(org: FakeOrg):
    org.add("Opportunity", Name="Binned", IsDeleted=True)
    live = run(org, "SELECT Name, IsDeleted FROM Opportunity")
    assert "Binned" not in names(live)
    assert live.total_size == 4
    everything = run(org, "SELECT Name, IsDeleted FROM Opportunity", include_deleted=True)
    assert everything.total_size == 5
    assert {r["Name"]: r["IsDeleted"] for r in everything.records}["Binned"] is True
    deleted = run(org, "SELECT Name FROM Opportunity WHERE IsDeleted = true", include_deleted=True)
    assert names(deleted) == ["Binned"]


def test_total_size_counts_the_rows_after_limit_and_offset(org: FakeOrg):
    result = run(org, "SELECT Name FROM Opportunity ORDER BY Name LIMIT 2 OFFSET 1")
    assert names(result) == ["beta", "Delta"]
    assert result.total_size == 2


# ---------------------------------------------------------------- comparisons


def test_text_equality_ignores_case(org: FakeOrg):
    assert names(run(org, "SELECT Name FROM Opportunity WHERE Name = 'ALPHA'")) == ["Alpha"]
    picked = run(org, "SELECT Name FROM Opportunity WHERE StageName = 'closed won'")
    assert names(picked) == ["Gamma"]


@pytest.mark.parametrize("operator", ["!=", "<>"])
def test_not_equal_excludes_the_value_and_keeps_nulls(org: FakeOrg, operator: str):
    result = run(org, soql("SELECT Name FROM Opportunity WHERE Amount", operator, "1000"))
    assert names(result) == ["beta", "Gamma", "Delta"]


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("Amount > 1000", ["beta"]),
        ("Amount >= 1000", ["Alpha", "beta"]),
        ("Amount < 1000", ["Delta"]),
        ("Amount <= 1000.0", ["Alpha", "Delta"]),
        ("Amount > -5", ["Alpha", "beta", "Delta"]),
        ("Amount = 250.5", ["Delta"]),
        ("Probability >= 10", ["Alpha", "beta"]),
        ("CloseDate < 2026-01-05", ["Gamma"]),
        ("CloseDate >= 2026-01-07", ["beta", "Delta"]),
        ("Name < 'c'", ["Alpha", "beta"]),
        ("Name >= 'D'", ["Gamma", "Delta"]),
    ],
)
def test_ordering_comparisons_skip_nulls(org: FakeOrg, where: str, expected: list[str]):
    assert names(run(org, soql("SELECT Name FROM Opportunity WHERE", where))) == expected


def test_booleans_compare_with_true_and_false(org: FakeOrg):
    assert names(run(org, "SELECT Name FROM Opportunity WHERE IsWon = TRUE")) == ["Gamma"]
    confirmed = run(org, "SELECT Name FROM Opportunity WHERE Budget_Confirmed__c != true")
    assert names(confirmed) == ["Alpha", "beta", "Gamma"]


def test_null_matches_with_equals_and_not_equals(org: FakeOrg):
    assert names(run(org, "SELECT Name FROM Opportunity WHERE Amount = null")) == ["Gamma"]
    assert names(run(org, "SELECT Name FROM Opportunity WHERE OwnerId = NULL")) == ["Delta"]
    result = run(org, "SELECT Name FROM Opportunity WHERE Amount != null")
    assert names(result) == ["Alpha", "beta", "Delta"]


def test_an_empty_string_compares_as_null(org: FakeOrg):
    org.add("Opportunity", Name="Quiet", NextStep="")
    org.add("Opportunity", Name="Busy", NextStep="Send proposal")
    empty = run(org, "SELECT Name FROM Opportunity WHERE NextStep = '' AND Name LIKE '%u%'")
    assert names(empty) == ["Quiet"]
    set_ = run(org, "SELECT Name FROM Opportunity WHERE NextStep != null")
    assert names(set_) == ["Busy"]


def test_a_fifteen_character_id_matches_its_eighteen_character_form(org: FakeOrg):
    beta = org_id(org, "beta")
    assert names(run(org, soql("SELECT Name FROM Opportunity WHERE Id =", repr(beta[:15])))) == [
        "beta"
    ]
    assert names(run(org, soql("SELECT Name FROM Opportunity WHERE Id =", repr(beta)))) == ["beta"]


def test_ids_compare_in_order_for_chunked_reads(org: FakeOrg):
    beta = org_id(org, "beta")
    result = run(org, soql("SELECT Name FROM Opportunity WHERE Id >", repr(beta), "ORDER BY Id"))
    assert names(result) == ["Gamma", "Delta"]


def test_relationship_fields_can_be_filtered(org: FakeOrg):
    mine = run(org, "SELECT Name FROM Opportunity WHERE Owner.Name = 'ada lovelace'")
    assert names(mine) == ["Alpha", "Gamma"]
    managed = run(org, "SELECT Name FROM Opportunity WHERE Owner.Manager.Name LIKE 'Grace%'")
    assert names(managed) == ["Alpha", "Gamma"]
    unowned = run(org, "SELECT Name FROM Opportunity WHERE Owner.Name = null")
    assert names(unowned) == ["Delta"]


def test_string_escapes_are_decoded(org: FakeOrg):
    org.add("Opportunity", Name="O'Brien \\ Sons")
    org.add("Opportunity", Name="Two\nlines")
    quoted = run(org, r"SELECT Name FROM Opportunity WHERE Name = 'o\'brien \\ sons'")
    assert names(quoted) == ["O'Brien \\ Sons"]
    assert names(run(org, r"SELECT Name FROM Opportunity WHERE Name = 'two\nLINES'")) == [
        "Two\nlines"
    ]


# ---------------------------------------------------------------- IN and LIKE


def test_in_matches_any_listed_value_ignoring_case(org: FakeOrg):
    query = "SELECT Name FROM Opportunity WHERE StageName IN ('prospecting', 'Closed Won')"
    assert names(run(org, query)) == ["Alpha", "Gamma"]


def test_not_in_excludes_the_listed_values_and_keeps_nulls(org: FakeOrg):
    result = run(org, "SELECT Name FROM Opportunity WHERE Amount NOT IN (1000, 5000)")
    assert names(result) == ["Gamma", "Delta"]


def test_in_can_list_null_and_date_literals(org: FakeOrg):
    with_null = run(org, "SELECT Name FROM Opportunity WHERE Amount IN (null, 250.5)")
    assert names(with_null) == ["Gamma", "Delta"]
    dated = run(org, "SELECT Name FROM Opportunity WHERE CloseDate IN (TODAY, LAST_YEAR)")
    assert names(dated) == ["Gamma", "Delta"]


def test_in_on_ids_matches_either_id_form(org: FakeOrg):
    alpha, beta = org_id(org, "Alpha"), org_id(org, "beta")
    query = soql(
        "SELECT Name FROM Opportunity WHERE Id IN (", repr(alpha[:15]), ",", repr(beta), ")"
    )
    assert names(run(org, query)) == ["Alpha", "beta"]


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("'%A%'", ["Alpha", "beta", "Gamma", "Delta"]),
        ("'a%'", ["Alpha"]),
        ("'%TA'", ["beta", "Delta"]),
        ("'_eta'", ["beta"]),
        ("'G_m%'", ["Gamma"]),
        ("'alpha'", ["Alpha"]),
        ("'alph'", []),
    ],
)
def test_like_matches_case_insensitively(org: FakeOrg, pattern: str, expected: list[str]):
    assert (
        names(run(org, soql("SELECT Name FROM Opportunity WHERE Name LIKE", pattern))) == expected
    )


def test_like_treats_escaped_wildcards_and_regex_characters_literally(org: FakeOrg):
    org.add("Opportunity", Name="100% growth")
    org.add("Opportunity", Name="1000 growth")
    org.add("Opportunity", Name="a_b (c.d)")
    percent = run(org, r"SELECT Name FROM Opportunity WHERE Name LIKE '100\%%'")
    assert names(percent) == ["100% growth"]
    underscore = run(org, r"SELECT Name FROM Opportunity WHERE Name LIKE 'a\_b (c.d)'")
    assert names(underscore) == ["a_b (c.d)"]


def test_like_never_matches_null(org: FakeOrg):
    assert run(org, "SELECT Name FROM Opportunity WHERE NextStep LIKE '%'").records == []


# ---------------------------------------------------------------- logic


def test_and_needs_every_condition(org: FakeOrg):
    query = "SELECT Name FROM Opportunity WHERE Amount > 100 AND IsClosed = false AND Name > 'b'"
    assert names(run(org, query)) == ["beta"]


def test_or_needs_any_condition(org: FakeOrg):
    query = "SELECT Name FROM Opportunity WHERE Name = 'Alpha' OR Amount = null OR Name = 'x'"
    assert names(run(org, query)) == ["Alpha", "Gamma"]


def test_not_negates_its_condition(org: FakeOrg):
    assert names(run(org, "SELECT Name FROM Opportunity WHERE NOT Amount > 900")) == [
        "Gamma",
        "Delta",
    ]
    query = "SELECT Name FROM Opportunity WHERE Amount > 0 AND (NOT Name = 'beta')"
    assert names(run(org, query)) == ["Alpha", "Delta"]


def test_parentheses_group_conditions(org: FakeOrg):
    query = (
        "SELECT Name FROM Opportunity WHERE (Amount > 2000 OR Amount < 500) "
        "AND (OwnerId = null OR (NOT (StageName = 'Prospecting')))"
    )
    assert names(run(org, query)) == ["beta", "Delta"]
    grouped = "SELECT Name FROM Opportunity WHERE (Name = 'Alpha' AND Amount > 1) OR Name = 'Gamma'"
    assert names(run(org, grouped)) == ["Alpha", "Gamma"]


# ---------------------------------------------------------------- date and datetime values


@pytest.mark.parametrize(
    "literal",
    [
        "2026-01-05T09:00:00Z",
        "2026-01-05T10:00:00+01:00",
        "2026-01-05T01:00:00-08:00",
        "2026-01-05T09:00:00.000+0000",
        "2026-01-05T09:00:00.000Z",
    ],
)
def test_datetime_literals_accept_every_offset_form(org: FakeOrg, literal: str):
    org.add("Task", Subject="Exact", CreatedDate=datetime(2026, 1, 5, 9, tzinfo=UTC))
    org.add("Task", Subject="Later", CreatedDate=datetime(2026, 1, 5, 9, 0, 1, tzinfo=UTC))
    assert names(
        run(org, soql("SELECT Subject FROM Task WHERE CreatedDate =", literal)), "Subject"
    ) == ["Exact"]
    later = run(org, soql("SELECT Subject FROM Task WHERE CreatedDate >", literal))
    assert names(later, "Subject") == ["Later"]


# Each relative date literal seen on Wednesday 2026-01-07: its first and last day.
DATE_LITERALS = [
    ("TODAY", "2026-01-07", "2026-01-07"),
    ("YESTERDAY", "2026-01-06", "2026-01-06"),
    ("TOMORROW", "2026-01-08", "2026-01-08"),
    ("THIS_WEEK", "2026-01-04", "2026-01-10"),
    ("LAST_WEEK", "2025-12-28", "2026-01-03"),
    ("NEXT_WEEK", "2026-01-11", "2026-01-17"),
    ("THIS_MONTH", "2026-01-01", "2026-01-31"),
    ("LAST_MONTH", "2025-12-01", "2025-12-31"),
    ("NEXT_MONTH", "2026-02-01", "2026-02-28"),
    ("LAST_90_DAYS", "2025-10-09", "2026-01-07"),
    ("NEXT_90_DAYS", "2026-01-08", "2026-04-07"),
    ("LAST_N_DAYS:3", "2026-01-04", "2026-01-07"),
    ("NEXT_N_DAYS:3", "2026-01-08", "2026-01-10"),
    ("N_DAYS_AGO:3", "2026-01-04", "2026-01-04"),
    ("LAST_N_WEEKS:2", "2025-12-21", "2026-01-03"),
    ("LAST_N_MONTHS:2", "2025-11-01", "2025-12-31"),
    ("THIS_QUARTER", "2026-01-01", "2026-03-31"),
    ("LAST_QUARTER", "2025-10-01", "2025-12-31"),
    ("THIS_YEAR", "2026-01-01", "2026-12-31"),
    ("LAST_YEAR", "2025-01-01", "2025-12-31"),
]
# Every range's first and last day and the days just outside it.
BOUNDARY_DAYS = sorted(
    {
        date.fromisoformat(day) + timedelta(days=shift)
        for _, first, last in DATE_LITERALS
        for day, shift in ((first, -1), (first, 0), (last, 0), (last, 1))
    }
)


@pytest.fixture
def calendar() -> FakeOrg:
    """One opportunity closing on each boundary day, named by its date."""
    org = FakeOrg()
    for day in BOUNDARY_DAYS:
        org.add("Opportunity", Name=day.isoformat(), CloseDate=day)
    return org


def _closing(org: FakeOrg, where: str) -> list[date]:
    result = run(org, soql("SELECT Name FROM Opportunity WHERE", where, "ORDER BY CloseDate"))
    return [date.fromisoformat(name) for name in names(result)]


@pytest.mark.parametrize(("literal", "first", "last"), DATE_LITERALS)
def test_date_literals_cover_salesforces_ranges(
    calendar: FakeOrg, literal: str, first: str, last: str
):
    start, end = date.fromisoformat(first), date.fromisoformat(last)
    assert _closing(calendar, f"CloseDate = {literal}") == [
        day for day in BOUNDARY_DAYS if start <= day <= end
    ]


@pytest.mark.parametrize(
    ("operator", "keeps"),
    [
        ("=", lambda day: date(2026, 1, 4) <= day <= date(2026, 1, 10)),
        ("!=", lambda day: not date(2026, 1, 4) <= day <= date(2026, 1, 10)),
        ("<", lambda day: day < date(2026, 1, 4)),
        ("<=", lambda day: day <= date(2026, 1, 10)),
        (">", lambda day: day > date(2026, 1, 10)),
        (">=", lambda day: day >= date(2026, 1, 4)),
    ],
)
def test_comparing_with_a_date_literal_compares_with_its_range(
    calendar: FakeOrg, operator: str, keeps
):
    assert _closing(calendar, f"CloseDate {operator} THIS_WEEK") == [
        day for day in BOUNDARY_DAYS if keeps(day)
    ]


def test_date_literal_keywords_ignore_case(calendar: FakeOrg):
    assert _closing(calendar, "CloseDate = last_n_days:3") == _closing(
        calendar, "CloseDate = LAST_N_DAYS:3"
    )


def _created(org: FakeOrg, where: str, **options: Any) -> list[str]:
    result = run(
        org, soql("SELECT Subject FROM Task WHERE", where, "ORDER BY CreatedDate"), **options
    )
    return names(result, "Subject")


@pytest.fixture
def stamped() -> FakeOrg:
    """Tasks created around the edges of 7 January, in UTC and in Los Angeles (UTC-8)."""
    org = FakeOrg()
    for stamp in (
        "2026-01-06T23:59:59",
        "2026-01-07T00:00:00",
        "2026-01-07T07:59:59",
        "2026-01-07T08:00:00",
        "2026-01-07T23:59:59",
        "2026-01-08T00:00:00",
        "2026-01-08T07:59:59",
        "2026-01-08T08:00:00",
    ):
        org.add("Task", Subject=stamp, CreatedDate=datetime.fromisoformat(stamp + "+00:00"))
    return org


def test_datetime_fields_take_date_literal_days_in_utc_by_default(stamped: FakeOrg):
    assert _created(stamped, "CreatedDate = TODAY") == [
        "2026-01-07T00:00:00",
        "2026-01-07T07:59:59",
        "2026-01-07T08:00:00",
        "2026-01-07T23:59:59",
    ]
    assert _created(stamped, "CreatedDate < TODAY") == ["2026-01-06T23:59:59"]
    assert _created(stamped, "CreatedDate > TODAY")[0] == "2026-01-08T00:00:00"


def test_datetime_fields_take_date_literal_days_in_the_users_time_zone(stamped: FakeOrg):
    # 03:00 UTC on the 8th is still the 7th in Los Angeles.
    late = datetime(2026, 1, 8, 3, tzinfo=UTC)
    assert _created(stamped, "CreatedDate = TODAY", now=late, user_time_zone=LOS_ANGELES) == [
        "2026-01-07T08:00:00",
        "2026-01-07T23:59:59",
        "2026-01-08T00:00:00",
        "2026-01-08T07:59:59",
    ]
    assert _created(stamped, "CreatedDate = TODAY", now=late) == [
        "2026-01-08T00:00:00",
        "2026-01-08T07:59:59",
        "2026-01-08T08:00:00",
    ]


def test_a_daylight_saving_day_is_23_hours_long_in_the_users_time_zone():
    org = FakeOrg()
    for hour in ("07:59:59", "08:00:00", "06:59:59+1", "07:00:00+1"):
        day = 9 if hour.endswith("+1") else 8
        stamp = datetime.fromisoformat(f"2026-03-{day:02d}T{hour[:8]}+00:00")
        org.add("Task", Subject=f"{day} {hour[:8]}", CreatedDate=stamp)
    spring_forward = datetime(2026, 3, 8, 20, tzinfo=UTC)
    kept = _created(org, "CreatedDate = TODAY", now=spring_forward, user_time_zone=LOS_ANGELES)
    assert kept == ["8 08:00:00", "9 06:59:59"]


def test_execute_leaves_the_garbage_collector_as_it_found_it(org: FakeOrg):
    assert gc.isenabled()
    run(org, "SELECT Name FROM Opportunity")
    assert gc.isenabled()
    gc.disable()
    try:
        run(org, "SELECT Name FROM Opportunity")
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_a_naive_now_is_refused(org: FakeOrg):
    with pytest.raises(ValueError, match="aware"):
        run(org, "SELECT Id FROM Opportunity", now=datetime(2026, 1, 7))  # noqa: DTZ001


# ---------------------------------------------------------------- ORDER BY, LIMIT, OFFSET


def test_order_by_sorts_ascending_by_default_and_descending_on_request(org: FakeOrg):
    assert names(run(org, "SELECT Name FROM Opportunity ORDER BY CloseDate")) == [
        "Gamma",
        "Alpha",
        "Delta",
        "beta",
    ]
    assert names(run(org, "SELECT Name FROM Opportunity ORDER BY CloseDate DESC")) == [
        "beta",
        "Delta",
        "Alpha",
        "Gamma",
    ]


def test_text_sorts_ignoring_case(org: FakeOrg):
    assert names(run(org, "SELECT Name FROM Opportunity ORDER BY Name ASC")) == [
        "Alpha",
        "beta",
        "Delta",
        "Gamma",
    ]


def test_nulls_sort_first_ascending_and_last_descending(org: FakeOrg):
    assert names(run(org, "SELECT Name FROM Opportunity ORDER BY Amount")) == [
        "Gamma",
        "Delta",
        "Alpha",
        "beta",
    ]
    assert names(run(org, "SELECT Name FROM Opportunity ORDER BY Amount DESC")) == [
        "beta",
        "Alpha",
        "Delta",
        "Gamma",
    ]


def test_nulls_first_and_last_override_the_default(org: FakeOrg):
    last = run(org, "SELECT Name FROM Opportunity ORDER BY Amount ASC NULLS LAST")
    assert names(last) == ["Delta", "Alpha", "beta", "Gamma"]
    first = run(org, "SELECT Name FROM Opportunity ORDER BY Amount DESC NULLS FIRST")
    assert names(first) == ["Gamma", "beta", "Alpha", "Delta"]


def test_several_sort_keys_mix_directions(org: FakeOrg):
    query = "SELECT Name FROM Opportunity ORDER BY IsClosed DESC, OwnerId ASC NULLS LAST, Name DESC"
    assert names(run(org, query)) == ["Gamma", "beta", "Alpha", "Delta"]


def test_ties_on_the_first_key_are_broken_by_the_next(org: FakeOrg):
    org.add("Opportunity", Name="Epsilon", CloseDate=date(2026, 1, 5))
    org.add("Opportunity", Name="Zeta", CloseDate=None)
    query = "SELECT Name FROM Opportunity ORDER BY CloseDate, Name DESC"
    assert names(run(org, query)) == ["Zeta", "Gamma", "Epsilon", "Alpha", "Delta", "beta"]


def test_a_picklist_sorts_in_its_defined_order(org: FakeOrg):
    result = run(org, "SELECT Name FROM Opportunity ORDER BY StageName")
    assert names(result) == ["Alpha", "Delta", "beta", "Gamma"]


def test_order_by_a_relationship_field(org: FakeOrg):
    result = run(org, "SELECT Name FROM Opportunity ORDER BY Owner.Name DESC NULLS LAST, Name")
    assert names(result) == ["beta", "Alpha", "Gamma", "Delta"]


def test_limit_and_offset_window_the_sorted_rows(org: FakeOrg):
    assert names(run(org, "SELECT Name FROM Opportunity ORDER BY Name LIMIT 2")) == [
        "Alpha",
        "beta",
    ]
    assert names(run(org, "SELECT Name FROM Opportunity ORDER BY Name LIMIT 2 OFFSET 3")) == [
        "Gamma"
    ]
    assert run(org, "SELECT Name FROM Opportunity LIMIT 0").records == []


def test_an_incremental_sync_query_pages_by_modstamp_then_id():
    org = FakeOrg()
    base = datetime(2026, 1, 1, tzinfo=UTC)
    for index in range(50):
        stamp = base + timedelta(hours=index % 7)
        org.add("Task", Id=f"00T8W{49 - index:010d}AAA", Subject=str(index), SystemModstamp=stamp)
    query = (
        "SELECT Id, Subject, SystemModstamp FROM Task "
        "WHERE SystemModstamp >= 2026-01-01T02:00:00Z ORDER BY SystemModstamp, Id"
    )
    records = run(org, query).records
    keys = [(r["SystemModstamp"], r["Id"]) for r in records]
    assert keys == sorted(keys)
    assert len(records) == sum(1 for i in range(50) if i % 7 >= 2)
    assert records[0]["SystemModstamp"] == "2026-01-01T02:00:00.000+0000"
