"""A Salesforce create whose answer is a 500 or lost is not sent again by the connector.

What was wrong: the connector retried a composite create after a 5xx (a read time-out or
reset already stopped it, as a plain TransientError); Salesforce may have created the
records, so they could exist twice. It now raises WriteOutcomeUnknown and the runner looks
the records up by match key before sending the missing ones.
"""

from __future__ import annotations

import pytest

from accord.connectors.salesforce import SalesforceConnector
from accord.model import WriteOutcomeUnknown
from accord.sandbox.salesforce import SalesforceSandbox


async def test_salesforce_creates_are_not_resent_after_a_500_or_a_lost_answer() -> None:
    sb = SalesforceSandbox()
    sb.start()
    try:
        assert sb.tls is not None
        conn = SalesforceConnector("sf", sb.url, "token", verify=sb.tls.cafile, backoff=0.01, timeout=5.0)
        await conn.describe("Contact")
        sent = conn.api_calls
        sb.set_faults(queue=["error"])  # the next call answers 500: the create may or may not have happened
        with pytest.raises(WriteOutcomeUnknown):
            await conn.create("Contact", [{"LastName": "Once", "Email": "once@x.com"}])
        assert conn.api_calls == sent + 1  # not resent
        await conn.aclose()
    finally:
        sb.stop()
