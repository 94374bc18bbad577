"""The audit log page: owners only, newest first, who (by e-mail or key name), from where,
in pages that neither skip nor repeat a line; another association's lines never show."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

from tests.backoffice_more.helpers import value
from tests.support.backoffice import add_member, login, member_client
from tests.support.platform import Platform


async def test_audit_log_newest_first_in_pages(pf: Platform) -> None:
    email = await add_member(pf, pf.org, "owner")
    owner = await login(pf, email)
    org_id = await value(pf, "SELECT id FROM organizations WHERE slug = $1", pf.org)
    other_id = await value(pf, "SELECT id FROM organizations WHERE slug = $1",
                           pf.seeded["other_org"]["org_slug"])  # fmt: skip
    user_id = await value(pf, "SELECT id FROM users WHERE lower(email) = lower($1)", email)
    tag = uuid.uuid4().hex[:8]
    start = datetime.now(UTC) + timedelta(days=1)  # after every real line: they come first
    async with pf.runtime.pool.acquire() as conn:
        for i in range(120):
            await conn.execute(
                """INSERT INTO audit_log (organization_id, actor, action, target_type,
                       target_id, data, at) VALUES ($1, $2, $3, 'test', $4, $5, $6)""",
                org_id, f"user:{user_id}", f"test.{tag}", f"{tag}-{i:03d}",
                {"ip": "203.0.113.7", "n": i}, start + timedelta(seconds=i // 2),
            )  # fmt: skip
        await conn.execute(
            """INSERT INTO audit_log (organization_id, actor, action, target_type, target_id)
               VALUES ($1, 'system', $2, 'test', 'theirs')""", other_id, f"test.{tag}")  # fmt: skip
    seen: list[str] = []
    url = f"/admin/{pf.org}/audit"
    for _ in range(10):
        r = await owner.get(url)
        assert r.status_code == 200
        seen += re.findall(rf"<code>({tag}-\d{{3}})</code>", r.text)
        found = re.search(r'href="(\?after=[^"]+)" rel="next"', r.text)
        if found is None or len(seen) == 120:
            break
        url = f"/admin/{pf.org}/audit" + found.group(1).replace("&amp;", "&")
    assert seen == [f"{tag}-{i:03d}" for i in range(119, -1, -1)]  # newest first, each once
    first = await owner.get(f"/admin/{pf.org}/audit")
    assert email in first.text and "203.0.113.7" in first.text and "theirs" not in first.text
    assert "n: 119" in first.text
    async with pf.runtime.pool.acquire() as conn:  # later tests' lines must come first again
        await conn.execute("DELETE FROM audit_log WHERE action = $1", f"test.{tag}")
    # Only owners.
    for role in ("admin", "finance", "campaigner"):
        c = await member_client(pf, pf.org, role)
        assert (await c.get(f"/admin/{pf.org}/audit")).status_code == 403, role


async def test_actions_of_people_and_keys_are_named(pf: Platform) -> None:
    owner = await member_client(pf, pf.org, "owner")
    page = f"/admin/{pf.org}/api-keys"
    r = await owner.submit(page, page, {"name": f"Site {uuid.uuid4().hex[:6]}", "role": "admin"})
    assert r.status_code == 201
    key = re.search(r'id="new-key" class="secret" readonly value="([^"]+)"', r.text)
    assert key
    name = re.search(r"<td>(Site [0-9a-f]{6})</td>", r.text)
    assert name
    # The key acts through the API: the audit log names it by its name, not its id.
    created = await pf.app.post(
        f"/api/v1/orgs/{pf.org}/webhook-endpoints", headers=pf.auth(key.group(1)),
        json={"url": "http://127.0.0.1:9/hook", "event_types": ["donation.paid"]},
    )  # fmt: skip
    assert created.status_code == 201
    await pf.app.delete(f"/api/v1/orgs/{pf.org}/webhook-endpoints/{created.json()['id']}",
                        headers=pf.auth(key.group(1)))  # fmt: skip
    r = await owner.get(f"/admin/{pf.org}/audit")
    assert f"API key {name.group(1)}" in r.text and "webhook_endpoint.created" in r.text
    assert "api_key.created" in r.text
    assert r.text.index("webhook_endpoint.deleted") < r.text.index("api_key.created")
