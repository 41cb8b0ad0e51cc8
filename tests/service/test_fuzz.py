"""schemathesis against the running server's ``/openapi.json``: whatever it sends, no 5xx.

Bounded (``max_examples`` per operation) so the suite stays fast; schemathesis generates bodies
that fit the published request models and, in its negative mode, bodies that break them.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings

schemathesis = pytest.importorskip("schemathesis")

MAX_EXAMPLES = 100


@pytest.fixture(scope="session")
def api_schema(server):
    return schemathesis.openapi.from_url(server.url + "/openapi.json")


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_no_request_gets_a_server_error(case, server):
    import time; t0 = time.time()
    response = case.call(timeout=60)
    print("STAT", case.method, case.path, response.status_code, round(time.time() - t0, 3), response.text[:80].replace("\n", " "))
    assert response.status_code < 500, (case.as_curl_command(), response.text)
    assert response.json()["schema_version"] == 1
