"""schemathesis against the running server's ``/openapi.json``: whatever it sends, no 5xx.

Bounded so the suite stays fast: ``MAX_EXAMPLES`` generated requests per operation (bodies that fit
the published request models and, in schemathesis' negative mode, bodies that break them). The
coverage phase (every method on every path, boundary values) is off: it triples the run time and
the hostile-body table in ``test_server.py`` covers the boundaries that matter here.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings

schemathesis = pytest.importorskip("schemathesis")

MAX_EXAMPLES = 100


@pytest.fixture(scope="session")
def api_schema(server):
    config = schemathesis.Config.from_dict({"phases": {"coverage": {"enabled": False}}})
    return schemathesis.openapi.from_url(server.url + "/openapi.json", config=config)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_no_request_gets_a_server_error(case):
    response = case.call(timeout=60)
    assert response.status_code < 500, (case.as_curl_command(), response.text)
    assert response.json()["schema_version"] == 1
