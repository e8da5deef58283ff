"""Property-based run of Schemathesis against the service's own OpenAPI schema: no request gives a 5xx.

Bounded (25 valid and 10 invalid examples per operation, a few hundred in all, derandomized) and without
network: authentication is off for this app only, and the client's FHIR server is an in-process fake.
"""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error

from tests.service.conftest import MakeApi

EXAMPLES = {schemathesis.GenerationMode.POSITIVE: 25, schemathesis.GenerationMode.NEGATIVE: 10}


def test_no_request_makes_the_service_fail(make_api: MakeApi) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", make_api(auth=False).app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.label for op in operations} >= {
        "GET /cds-services",
        "POST /cds-services/{service_id}",
        "POST /cds-services/{service_id}/feedback",
        "POST /api/v1/screen",
        "POST /api/v1/screen/fhir",
        "GET /api/v1/knowledge/{drug}",
    }
    tested = 0
    for operation in operations:
        for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE):

            @settings(
                max_examples=EXAMPLES[mode],
                deadline=None,
                derandomize=True,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode))
            def call(case: schemathesis.Case) -> None:
                nonlocal tested
                tested += 1
                case.call_and_validate(checks=[not_a_server_error])

            try:
                call()
            except Unsatisfiable:
                # an operation with no parameters and no body has no invalid form to generate
                assert mode is schemathesis.GenerationMode.NEGATIVE, operation.label
    assert tested >= 150
