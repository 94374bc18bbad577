"""Who may open the recurring, receipts, webhooks and audit pages; another association's
plan, receipt, endpoint or delivery answers 404; a POST without its CSRF token changes
nothing."""

from __future__ import annotations

import uuid

from arq.connections import ArqRedis

from tests.backoffice_more.helpers import add_endpoint, monthly_plan, receipt_of, value
from tests.integrator_webhooks.helpers import Receiver
from tests.recurring.helpers import plan
from tests.support.backoffice import demo_admin, member_client
from tests.support.platform import Platform

ROLES = ("owner", "admin", "finance", "campaigner")


async def test_pages_open_for_their_roles_only(
    pf: Platform, redis: ArqRedis, receiver: Receiver
) -> None:
    p = await monthly_plan(pf, redis)
    receipt_id = await receipt_of(pf, redis, "roles-more@example.org")
    endpoint_id, _ = await add_endpoint(await demo_admin(pf), pf.org, receiver.url)
    base = f"/admin/{pf.org}"
    pages = {
        ("owner", "admin", "finance"): [
            f"{base}/recurring", f"{base}/recurring?status=active", f"{base}/recurring/{p['id']}",
            f"{base}/receipts", f"{base}/receipts?email=failed&kind=single",
            f"{base}/receipts/{receipt_id}.pdf",
        ],
        ("owner", "admin"): [f"{base}/webhooks", f"{base}/webhooks/{endpoint_id}"],
        ("owner",): [f"{base}/audit"],
    }  # fmt: skip
    for role in ROLES:
        c = await member_client(pf, pf.org, role)
        for allowed, urls in pages.items():
            for url in urls:
                r = await c.get(url)
                assert r.status_code == (200 if role in allowed else 403), (role, url)
                if r.status_code == 200 and not url.endswith(".pdf"):
                    assert r.headers["content-language"] == "fr"
                    assert 'lang="fr"' in r.text and "<main" in r.text
        # The menu offers exactly the pages the role may open.
        menu = (await c.get(base)).text
        assert (f'href="{base}/recurring"' in menu) == (role != "campaigner")
        assert (f'href="{base}/webhooks"' in menu) == (role in ("owner", "admin"))
        assert (f'href="{base}/audit"' in menu) == (role == "owner")
    # Writes are refused to the roles that may not read.
    campaigner = await member_client(pf, pf.org, "campaigner")
    token = await campaigner.csrf(base)
    for action in (f"/recurring/{p['id']}/cancel", f"/receipts/{receipt_id}/resend",
                   "/receipts/annual", f"/webhooks/{endpoint_id}/delete",
                   f"/webhooks/{endpoint_id}/test"):  # fmt: skip
        r = await campaigner.post(
            base + action, data={"csrf_token": token, "confirm": "yes", "year": "2026"}
        )
        assert r.status_code == 403, action
    finance = await member_client(pf, pf.org, "finance")
    token = await finance.csrf(f"{base}/receipts")
    r = await finance.post(f"{base}/webhooks/{endpoint_id}/secret", data={"csrf_token": token})
    assert r.status_code == 403 and "whsec_" not in r.text
    assert (await plan(pf, p["id"]))["status"] == "active"
    assert await value(pf, "SELECT count(*) FROM webhook_endpoints WHERE id = $1::uuid",
                       endpoint_id) == 1  # fmt: skip
    # English on request, every page.
    admin = await demo_admin(pf)
    for url in (f"{base}/recurring", f"{base}/receipts", f"{base}/webhooks", f"{base}/audit"):
        r = await admin.get(url, params={"lang": "en"})
        assert r.status_code == 200 and 'lang="en"' in r.text, url
    assert "Monthly recurring revenue" in (await admin.get(f"{base}/recurring")).text
    r = await member_client(pf, pf.org, "owner")
    assert "Revenu mensuel récurrent" in (await r.get(f"{base}/recurring")).text


async def test_another_associations_objects_answer_404(
    pf: Platform, redis: ArqRedis, receiver: Receiver
) -> None:
    p = await monthly_plan(pf, redis)
    receipt_id = await receipt_of(pf, redis, "isolation-more@example.org")
    ours = await demo_admin(pf)
    endpoint_id, _ = await add_endpoint(ours, pf.org, receiver.url)
    r = await ours.submit(f"/admin/{pf.org}/webhooks/{endpoint_id}",
                          f"/admin/{pf.org}/webhooks/{endpoint_id}/test")  # fmt: skip
    assert r.status_code == 303
    delivery_id = r.headers["location"].rsplit("/", 1)[1].split("?")[0]

    other = pf.seeded["other_org"]["org_slug"]
    theirs = await member_client(pf, other, "owner")
    before = await value(pf, "SELECT count(*) FROM audit_log")
    # Their own pages work; our objects under their association's URL do not exist.
    assert (await theirs.get(f"/admin/{other}/recurring")).status_code == 200
    listed = (await theirs.get(f"/admin/{other}/recurring")).text
    assert p["id"] not in listed
    assert receipt_id not in (await theirs.get(f"/admin/{other}/receipts")).text
    assert endpoint_id not in (await theirs.get(f"/admin/{other}/webhooks")).text
    b = f"/admin/{other}"
    gets = [
        f"{b}/recurring/{p['id']}", f"{b}/receipts/{receipt_id}.pdf",
        f"{b}/receipts/{receipt_id}/cancellation.pdf", f"{b}/webhooks/{endpoint_id}",
        f"{b}/webhooks/{endpoint_id}/deliveries/{delivery_id}",
        f"{b}/recurring/not-a-uuid", f"{b}/webhooks/{uuid.uuid4()}",
    ]  # fmt: skip
    for url in gets:
        assert (await theirs.get(url)).status_code == 404, url
    token = await theirs.csrf(f"{b}/webhooks")
    posts = [
        f"{b}/recurring/{p['id']}/cancel", f"{b}/receipts/{receipt_id}/resend",
        f"{b}/webhooks/{endpoint_id}", f"{b}/webhooks/{endpoint_id}/enable",
        f"{b}/webhooks/{endpoint_id}/disable", f"{b}/webhooks/{endpoint_id}/delete",
        f"{b}/webhooks/{endpoint_id}/secret", f"{b}/webhooks/{endpoint_id}/rotate",
        f"{b}/webhooks/{endpoint_id}/test",
        f"{b}/webhooks/{endpoint_id}/deliveries/{delivery_id}/replay",
    ]  # fmt: skip
    form = {"csrf_token": token, "confirm": "yes", "url": receiver.url,
            "event_types": "donation.paid", "enabled": "on"}  # fmt: skip
    for url in posts:
        r = await theirs.post(url, data=form)
        assert r.status_code == 404, (url, r.status_code)
        assert "whsec_" not in r.text
    # Nor through our association's URL: they are not a member of it.
    assert (await theirs.get(f"/admin/{pf.org}/recurring/{p['id']}")).status_code == 404
    assert (await theirs.get(f"/admin/{pf.org}/receipts/{receipt_id}.pdf")).status_code == 404
    # Nothing changed, nothing was recorded.
    assert (await plan(pf, p["id"]))["status"] == "active"
    assert await value(pf, "SELECT count(*) FROM audit_log") == before
    assert await value(pf, "SELECT enabled FROM webhook_endpoints WHERE id = $1::uuid",
                       endpoint_id) is True  # fmt: skip
    assert await value(pf, "SELECT count(*) FROM webhook_deliveries WHERE endpoint_id = "
                           "$1::uuid", endpoint_id) == 1  # fmt: skip


async def test_posts_without_a_valid_csrf_token_are_refused(
    pf: Platform, redis: ArqRedis, receiver: Receiver
) -> None:
    p = await monthly_plan(pf, redis)
    admin = await demo_admin(pf)
    endpoint_id, secret = await add_endpoint(admin, pf.org, receiver.url)
    base = f"/admin/{pf.org}"
    other = await demo_admin(pf)  # another session of the same person
    stolen = await other.csrf(f"{base}/recurring")
    before = await value(pf, "SELECT count(*) FROM audit_log")
    e = f"/webhooks/{endpoint_id}"
    actions = [f"/recurring/{p['id']}/cancel", "/receipts/annual", "/webhooks", f"{e}/delete",
               f"{e}/secret", f"{e}/rotate", f"{e}/test"]  # fmt: skip
    for token in (None, "", "forged-token"):
        data = {"confirm": "yes", "year": "2026"} | ({"csrf_token": token} if token is not None
                                                     else {})  # fmt: skip
        for action in actions:
            r = await admin.post(base + action, data=data)
            assert r.status_code == 403, (action, token)
            assert secret not in r.text
    # A token of another session does not do either.
    r = await admin.post(f"{base}/recurring/{p['id']}/cancel",
                         data={"csrf_token": stolen, "confirm": "yes"})  # fmt: skip
    assert r.status_code == 403
    assert (await plan(pf, p["id"]))["status"] == "active"
    assert await value(pf, "SELECT count(*) FROM audit_log") == before
    assert await value(pf, "SELECT count(*) FROM webhook_endpoints WHERE id = $1::uuid",
                       endpoint_id) == 1  # fmt: skip
