"""Pure parts of the Salesforce connector: value conversion, SOQL literals, error categories."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from accord.connectors.salesforce import canonical, soql_literal, to_wire, write_error
from accord.model import ErrorCategory
from accord.sandbox.salesforce import soql
from accord.sandbox.salesforce.schema import CONTACT, id18, normalize_id


@given(st.text(max_size=40))
def test_string_literals_survive_soql_escaping(value: str) -> None:
    q = soql.parse(f"SELECT Id FROM Contact WHERE LastName = {soql_literal('string', value)}")
    assert q.where is not None and q.where[3] == value


def test_canonical_values() -> None:
    assert canonical("datetime", "2024-03-01T10:20:30.000+0000") == "2024-03-01T10:20:30.000Z"
    assert canonical("currency", 1500.0) == 1500 and canonical("percent", 12.5) == 12.5
    assert canonical("date", "2024-03-01") == "2024-03-01" and canonical("boolean", False) is False
    assert canonical("multipicklist", "a;b") == ["a", "b"] and canonical("string", "") is None
    assert to_wire("datetime", "2024-03-01T12:00:00+02:00") == "2024-03-01T10:00:00.000Z"
    assert to_wire("double", "2.50") == 2.5 and to_wire("multipicklist", ["a", "b"]) == "a;b"
    assert to_wire("string", "") is None and to_wire("date", "2024-03-01T00:00:00Z") == "2024-03-01"


def test_error_categories() -> None:
    def cat(code: str, fields: list[str] | None = None) -> ErrorCategory:
        return write_error([{"statusCode": code, "message": "m", "fields": fields or []}]).category

    assert cat("FIELD_CUSTOM_VALIDATION_EXCEPTION") == ErrorCategory.CUSTOM_CODE
    assert cat("DUPLICATES_DETECTED") == ErrorCategory.DUPLICATES
    assert cat("INVALID_FIELD_FOR_INSERT_UPDATE", ["Name"]) == ErrorCategory.PERMISSIONS
    assert cat("INSUFFICIENT_ACCESS_SOMETHING_NEW") == ErrorCategory.PERMISSIONS
    assert cat("REQUIRED_FIELD_MISSING", ["LastName"]) == ErrorCategory.VALIDATION
    assert cat("INVALID_EMAIL_ADDRESS") == ErrorCategory.VALIDATION
    assert cat("INVALID_CROSS_REFERENCE_KEY", ["AccountId"]) == ErrorCategory.ASSOCIATIONS
    assert cat("SOMETHING_ELSE") == ErrorCategory.UNKNOWN
    err = write_error([{"errorCode": "REQUIRED_FIELD_MISSING", "message": "Required fields are missing: [LastName]",
                        "fields": ["LastName"]}])
    assert err.code == "REQUIRED_FIELD_MISSING" and "LastName" in err.hint


@given(st.text(alphabet="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", min_size=12, max_size=12))
def test_case_safe_ids(body: str) -> None:
    full = id18(CONTACT.key_prefix + body)
    assert len(full) == 18 and normalize_id(full[:15]) == full and normalize_id(full) == full
    # the suffix tells apart ids that differ only in case (case-insensitive tools compare 18-char ids)
    lower = id18(CONTACT.key_prefix + body.lower())
    assert body.lower() == body or lower[15:].upper() != full[15:].upper()
