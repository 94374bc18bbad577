"""Schemathesis against ``/openapi.json``: every operation of the public and association API,
fed valid and invalid data generated from the document, with the association's API key.
No answer is a 5xx, and every answer — status code, content type, body — is one the
document declares. Derandomized and bounded (``MAX_EXAMPLES`` per operation and mode), so
CI runs the same cases every time.

The platform is served in the test's event loop; schemathesis calls it synchronously, so the
fuzzing runs in a worker thread while the loop keeps serving the app and the sandbox.
"""

from __future__ import annotations

import asyncio
from typing import Any

import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.platform import Platform

# Valid data finds broken promises; invalid data mostly meets the same early refusals.
MAX_EXAMPLES = {GenerationMode.POSITIVE: 25, GenerationMode.NEGATIVE: 10}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def _aim(case: Any, org: str, campaign_id: str) -> None:
    """Point some cases at real objects (random UUIDs only ever meet a 404), and every
    association route at the key's own association."""
    params = case.path_parameters or {}
    if "org" in params:
        params["org"] = org
    if "campaign_id" in params and str(params["campaign_id"])[:1] in "01234567":
        params["campaign_id"] = campaign_id
    body = case.body
    if isinstance(body, dict) and "campaign_id" in body and str(body["campaign_id"])[:1] in "0123":
        # A gift the campaign takes (the schema cannot say which currency, amounts or tiers).
        body.update(campaign_id=campaign_id, currency="EUR", tier_id=None, method=None)
        body["amount_minor"] = 100 + abs(int(body.get("amount_minor") or 0)) % 100_000
        if isinstance(body.get("donor"), dict):
            body["donor"]["email"] = "fuzz@example.org"


def _describe(exc: BaseException) -> str:
    text = str(exc)
    if isinstance(exc, BaseExceptionGroup):
        text += "".join(f"\n  - {type(e).__name__}: {e}" for e in exc.exceptions)
    return text[:3000]


def fuzz(
    app_url: str, org: str, api_key: str, campaign_id: str
) -> tuple[dict[str, set[int]], list[str]]:
    schema = schemathesis.openapi.from_url(f"{app_url}/openapi.json")
    session = requests.Session()
    headers = {"Authorization": f"Bearer {api_key}"}
    failures: list[str] = []
    seen: dict[str, set[int]] = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        statuses = seen.setdefault(operation.label, set())
        for mode in MAX_EXAMPLES:

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=MAX_EXAMPLES[mode],
                derandomize=True,
                deadline=None,
                database=None,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            def run(case: Any) -> None:
                _aim(case, org, campaign_id)
                response = case.call_and_validate(
                    base_url=app_url, session=session, headers=headers, checks=CHECKS
                )
                statuses.add(response.status_code)  # noqa: B023 - run() is called right below

            try:
                run()
            except (Exception, BaseExceptionGroup) as exc:  # schemathesis' FailureGroup
                failures.append(f"{operation.label} [{mode.value}]: {_describe(exc)}")
    session.close()
    return seen, failures


async def test_the_api_keeps_its_documented_promises(pf: Platform) -> None:
    seen, failures = await asyncio.to_thread(
        fuzz, pf.app_url, pf.org, str(pf.seeded["api_key"]), pf.campaign_id
    )
    assert not failures, "\n\n".join(failures)
    print({label: sorted(codes) for label, codes in seen.items()})
    assert len(seen) >= 20  # the whole document was walked
    # The cases reached real objects and successes, not only refusals.
    assert 201 in seen["POST /api/v1/checkouts"]
    assert 200 in seen["GET /api/v1/campaigns/{campaign_id}"]
    assert 200 in seen["GET /api/v1/orgs/{org}/donations"]
