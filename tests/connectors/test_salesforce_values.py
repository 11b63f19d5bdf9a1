"""Pure parts of the Salesforce connector: value conversion, SOQL literals, error categories."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from accord.connectors.salesforce import canonical, iso, norm_ts, parse_ts, soql_literal, to_wire, write_error
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


@given(st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1)),
       st.sampled_from(["Z", "+0000", "+00:00", "+0200", "-05:30", ""]), st.booleans())
def test_timestamps_read_without_parsing_equal_the_parsed_ones(d: datetime, zone: str, millis: bool) -> None:
    """norm_ts's shortcut for the UTC forms Salesforce sends gives what parsing gives, and the
    other forms are parsed."""
    text = d.isoformat(timespec="milliseconds" if millis else "seconds") + zone
    assert norm_ts(text) == iso(parse_ts(text))
    assert norm_ts(text).endswith("Z") and parse_ts(norm_ts(text)) == parse_ts(text)
    assert norm_ts("2026-12-06T18:00:00.120+0000") == "2026-12-06T18:00:00.120Z"
    assert norm_ts("2026-12-06T18:00:00.120+0100") == iso(datetime(2026, 12, 6, 17, 0, 0, 120_000, tzinfo=UTC))
    assert parse_ts(norm_ts("2026-12-06T23:30:00.000-0100")) == datetime(2026, 12, 7, 0, 30, tzinfo=UTC)
