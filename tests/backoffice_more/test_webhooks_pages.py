"""Integrator webhooks from the back-office: an endpoint made with the form gets a signed
test event and real ``donation.paid`` events at a local receiver, the log shows them, a
delivery is replayed; edit, disable, rotate the secret, delete."""

from __future__ import annotations

import re

from arq.connections import ArqRedis

from tests.backoffice_more.helpers import SECRET, add_endpoint, value
from tests.integrator_webhooks.helpers import (
    Receiver,
    fast,
    python_verifier,
    settle_until_final,
)
from tests.support.backoffice import demo_admin, member_client
from tests.support.platform import Platform


async def test_endpoint_gets_test_event_then_replay(
    pf: Platform, redis: ArqRedis, receiver: Receiver
) -> None:
    admin = await member_client(pf, pf.org, "admin")
    endpoint_id, secret = await add_endpoint(admin, pf.org, receiver.url)
    assert secret.startswith("whsec_")
    page = f"/admin/{pf.org}/webhooks/{endpoint_id}"
    listing = await admin.get(f"/admin/{pf.org}/webhooks")
    assert receiver.url in listing.text and "Activé" in listing.text
    assert secret not in listing.text and secret not in (await admin.get(page)).text

    r = await admin.submit(page, f"{page}/test")
    assert r.status_code == 303 and "?done=test" in r.headers["location"]
    delivery_page = r.headers["location"].split("?")[0]
    rt = fast(pf.runtime)
    [row] = await settle_until_final(rt, redis, pf.redis_url, endpoint_id)
    assert row["status"] == "succeeded"
    [hit] = receiver.hits
    assert hit.event["type"] == "webhook.test" and hit.event["organization"]["slug"] == pf.org
    verify = python_verifier()
    assert verify(hit.body, hit.headers["donate-signature"], secret)
    shown = await admin.get(delivery_page)
    assert shown.status_code == 200
    assert re.search(r'id="delivery-status">Reçu<', shown.text)
    assert 'id="delivery-response">HTTP 200<' in shown.text
    assert 'id="delivery-attempts">1<' in shown.text and hit.event["id"] in shown.text
    log = await admin.get(page)
    assert f'id="delivery-{row["id"]}"' in log.text and "HTTP 200" in log.text

    # Replay: the same event again, as a new delivery.
    r = await admin.submit(delivery_page, f"{delivery_page}/replay")
    assert r.status_code == 303 and "?done=replayed" in r.headers["location"]
    rows = await settle_until_final(rt, redis, pf.redis_url, endpoint_id)
    assert len(rows) == 2 and all(x["status"] == "succeeded" for x in rows)
    assert rows[1]["replay_of"] == row["id"]
    assert [h.event["id"] for h in receiver.hits] == [hit.event["id"]] * 2
    assert verify(receiver.hits[1].body, receiver.hits[1].headers["donate-signature"], secret)
    replay_page = await admin.get(r.headers["location"].split("?")[0])
    assert "Renvoi de" in replay_page.text

    # A real gift: the endpoint subscribed to donation.paid receives it, signed.
    co = await pf.checkout("stripe", 3100)
    await pf.settle(co.checkout_id, "paid")
    await pf.deliver()
    rows = await settle_until_final(rt, redis, pf.redis_url, endpoint_id)
    [paid] = receiver.of_type("donation.paid")
    assert paid.event["data"]["id"] == co.donation_id and paid.event["data"]["amount_minor"] == 3100
    assert verify(paid.body, paid.headers["donate-signature"], secret)
    assert len(rows) == 3
    actions = {a["action"] for a in await _audit(pf, endpoint_id)}
    assert {"webhook_endpoint.created", "webhook_delivery.replayed"} <= actions


async def _audit(pf: Platform, endpoint_id: str) -> list[dict[str, str]]:
    async with pf.runtime.pool.acquire() as conn:
        found = await conn.fetch(
            "SELECT action, actor FROM audit_log WHERE target_id = $1 ORDER BY id", endpoint_id
        )
    return [dict(r) for r in found]


async def test_edit_disable_rotate_and_delete(
    pf: Platform, redis: ArqRedis, receiver: Receiver
) -> None:
    admin = await demo_admin(pf)
    endpoint_id, secret = await add_endpoint(admin, pf.org, receiver.url)
    page = f"/admin/{pf.org}/webhooks/{endpoint_id}"
    # Invalid edits: inline errors, nothing saved.
    r = await admin.submit(page, page, {"url": receiver.url, "enabled": "on"})
    assert r.status_code == 400 and 'id="event_types-error"' in r.text
    r = await admin.submit(page, page, {"url": "ftp://example.org/x", "enabled": "on",
                                        "event_types": ["donation.paid"]})  # fmt: skip
    assert r.status_code == 400 and 'id="url-error"' in r.text and 'aria-invalid="true"' in r.text
    r = await admin.submit(page, page, {"url": receiver.url, "enabled": "on",
                                        "event_types": ["donation.nonsense"]})  # fmt: skip
    assert r.status_code == 400
    assert await value(pf, "SELECT event_types FROM webhook_endpoints WHERE id = $1::uuid",
                       endpoint_id) == ["donation.paid"]  # fmt: skip
    types = ["receipt.issued", "donation.refunded"]
    r = await admin.submit(page, page, {"url": receiver.url, "description": "Compta",
                                        "enabled": "on", "event_types": types})  # fmt: skip
    assert r.status_code == 303
    assert await value(pf, "SELECT event_types FROM webhook_endpoints WHERE id = $1::uuid",
                       endpoint_id) == ["donation.refunded", "receipt.issued"]  # fmt: skip

    # Disabled: no test event can be sent.
    r = await admin.submit(page, f"{page}/disable")
    assert r.status_code == 303
    shown = await admin.get(page)
    assert 'id="endpoint-state">Désactivé<' in shown.text
    assert re.search(r'/test" class="inline">.*?<button type="submit" disabled>', shown.text)
    r = await admin.submit(page, f"{page}/test")
    assert r.status_code == 409 and "activez-le d'abord" in r.text
    r = await admin.submit(page, f"{page}/enable")
    assert r.status_code == 303

    # Shown on request; rotated at once: only the new secret signs.
    r = await admin.submit(page, f"{page}/secret")
    found = SECRET.search(r.text)
    assert r.status_code == 200 and found and found.group(1) == secret
    r = await admin.submit(page, f"{page}/rotate", {"grace_period_s": "0"})
    found = SECRET.search(r.text)
    assert found and found.group(1).startswith("whsec_") and found.group(1) != secret
    new_secret = found.group(1)
    r = await admin.submit(page, f"{page}/test")
    assert r.status_code == 303
    await settle_until_final(fast(pf.runtime), redis, pf.redis_url, endpoint_id)
    [hit] = receiver.hits
    verify = python_verifier()
    assert verify(hit.body, hit.headers["donate-signature"], new_secret)
    assert not verify(hit.body, hit.headers["donate-signature"], secret)
    actions = [a["action"] for a in await _audit(pf, endpoint_id)]
    for action in ("webhook_endpoint.updated", "webhook_endpoint.secret_revealed",
                   "webhook_endpoint.secret_rotated"):  # fmt: skip
        assert action in actions

    # Delete: only with the confirmation.
    r = await admin.submit(page, f"{page}/delete")
    assert r.status_code == 400 and 'id="confirm-error"' in r.text
    r = await admin.submit(page, f"{page}/delete", {"confirm": "yes"})
    assert r.status_code == 303 and r.headers["location"].endswith("?done=deleted")
    assert (await admin.get(page)).status_code == 404
    assert await value(pf, "SELECT count(*) FROM webhook_endpoints WHERE id = $1::uuid",
                       endpoint_id) == 0  # fmt: skip


async def test_create_form_errors_are_inline(pf: Platform) -> None:
    admin = await demo_admin(pf)
    page = f"/admin/{pf.org}/webhooks"
    before = await value(pf, "SELECT count(*) FROM webhook_endpoints")
    r = await admin.submit(page, page, {"url": "", "event_types": []})
    assert r.status_code == 400
    assert 'id="url-error"' in r.text and 'id="event_types-error"' in r.text
    assert 'href="#url"' in r.text and 'href="#event_types"' in r.text  # error summary links
    r = await admin.submit(page, page, {"url": "not a url", "event_types": ["donation.paid"],
                                        "description": "Mon CRM"})  # fmt: skip
    assert r.status_code == 400 and 'value="Mon CRM"' in r.text
    assert 'donation.paid" checked' in r.text
    assert await value(pf, "SELECT count(*) FROM webhook_endpoints") == before
