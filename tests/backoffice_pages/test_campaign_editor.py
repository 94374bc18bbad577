"""The campaign editor: roles, create → publish → public, forms, tiers, cover, news, widget."""

from __future__ import annotations

import io

from PIL import Image

from tests.backoffice_pages.helpers import (
    campaign_form,
    foreign_org,
    location_id,
    owner_of,
    png,
    row,
    value,
)
from tests.support.backoffice import AdminClient, client, demo_admin, login, member_client
from tests.support.platform import Platform


async def _create(admin: AdminClient, pf: Platform, **over: object) -> str:
    page = f"/admin/{pf.org}/campaigns/new"
    r = await admin.submit(page, f"/admin/{pf.org}/campaigns", campaign_form(**over))
    assert r.status_code == 303, r.text[:2000]
    return location_id(r.headers["location"])


async def test_each_role_reads_campaigns_only_editors_write(pf: Platform) -> None:
    campaign = pf.campaign_id
    for role in ("owner", "admin", "campaigner", "finance"):
        c = await member_client(pf, pf.org, role)
        assert (await c.get(f"/admin/{pf.org}/campaigns")).status_code == 200, role
        page = await c.get(f"/admin/{pf.org}/campaigns/{campaign}")
        assert page.status_code == 200, role
        new = await c.get(f"/admin/{pf.org}/campaigns/new")
        if role == "finance":
            assert new.status_code == 403
            assert "<fieldset disabled>" in page.text  # read-only
            token = await c.csrf(f"/admin/{pf.org}/campaigns/{campaign}")
            before = await value(
                pf, "SELECT updated_at FROM campaigns WHERE id = $1::uuid", campaign
            )
            r = await c.post(
                f"/admin/{pf.org}/campaigns/{campaign}",
                data={**campaign_form(title="Pirate"), "csrf_token": token},
            )
            assert r.status_code == 403
            r = await c.post(
                f"/admin/{pf.org}/campaigns/{campaign}/close", data={"csrf_token": token}
            )
            assert r.status_code == 403
            after = await value(
                pf, "SELECT updated_at FROM campaigns WHERE id = $1::uuid", campaign
            )
            assert after == before
        else:
            assert new.status_code == 200, role
            assert "<fieldset disabled>" not in page.text
    anonymous = client(pf)
    r = await anonymous.get(f"/admin/{pf.org}/campaigns")
    assert r.status_code == 303 and r.headers["location"].startswith("/admin/login")


async def test_create_publish_then_public_page_and_api_then_close(pf: Platform) -> None:
    admin = await member_client(pf, pf.org, "campaigner")
    campaign_id = await _create(admin, pf, slug="ruches-ecole")
    # A draft is not public (the page is not asked for here: a 404 is cached for a second).
    assert (await pf.app.get(f"/api/v1/campaigns/{campaign_id}")).status_code == 404
    preview = await admin.get(f"/admin/{pf.org}/campaigns/{campaign_id}/preview")
    assert preview.status_code == 200 and "Des ruches pour l&#39;école" in preview.text
    page = f"/admin/{pf.org}/campaigns/{campaign_id}"
    r = await admin.submit(page, f"{page}/publish")
    assert r.status_code == 303 and r.headers["location"].endswith("done=published")
    public = await pf.app.get(f"/c/{pf.org}/ruches-ecole")
    assert public.status_code == 200
    assert "Des ruches pour l&#39;école" in public.text
    assert "<strong>installons</strong>" in public.text
    api = (await pf.app.get(f"/api/v1/campaigns/{campaign_id}")).json()
    assert api["status"] == "live"
    assert api["slug"] == "ruches-ecole"
    assert api["kind"] == "donation"
    assert api["goal_minor"] == 500_000
    assert api["suggested_amounts_minor"] == [2000, 5000, 10000]
    assert api["frequencies"] == ["once", "monthly"]
    assert api["receipt_eligible"] is True
    # A published campaign keeps its address.
    r = await admin.submit(page, page, campaign_form(slug="autre-adresse"))
    assert r.status_code == 400 and 'aria-invalid="true"' in r.text
    r = await admin.submit(page, f"{page}/close")
    assert r.status_code == 303
    api = (await pf.app.get(f"/api/v1/campaigns/{campaign_id}")).json()
    assert api["status"] == "closed"
    audit = await value(
        pf, "SELECT array_agg(action ORDER BY id) FROM audit_log WHERE target_id = $1", campaign_id
    )
    assert audit == ["campaign.created", "campaign.published", "campaign.closed"]


async def test_invalid_fields_are_shown_inline_and_nothing_is_saved(pf: Platform) -> None:
    admin = await demo_admin(pf)
    before = await value(pf, "SELECT count(*) FROM campaigns")
    page = f"/admin/{pf.org}/campaigns/new"
    form = campaign_form(
        title="",
        min_amount="abc",
        max_amount="1",
        suggested_amounts="10 x",
        frequency_once="",
        frequency_monthly="",
        kind="crowdfunding",
        goal="",
        ends_on="2026-13-01",
    )
    r = await admin.submit(page, f"/admin/{pf.org}/campaigns", form)
    assert r.status_code == 400
    for name in ("title", "min_amount", "frequencies", "goal", "ends_on"):
        assert f'id="{name}-error"' in r.text, name
    assert await value(pf, "SELECT count(*) FROM campaigns") == before
    # Max below min, and a slug another campaign uses.
    r = await admin.submit(
        page,
        f"/admin/{pf.org}/campaigns",
        campaign_form(min_amount="50", max_amount="10", slug="dons-2026"),
    )
    assert r.status_code == 400
    assert 'id="max_amount-error"' in r.text and 'id="slug-error"' in r.text
    assert await value(pf, "SELECT count(*) FROM campaigns") == before


async def test_receipts_refused_with_an_explanation_without_siren_or_rna(pf: Platform) -> None:
    slug = await foreign_org(pf, country="BE", ids=False)
    owner = await login(pf, await owner_of(pf, slug))
    page = f"/admin/{slug}/campaigns/new"
    r = await owner.submit(page, f"/admin/{slug}/campaigns", campaign_form())
    assert r.status_code == 400
    assert 'id="receipt_eligible-error"' in r.text
    assert "SIREN" in r.text
    assert (
        await value(
            pf,
            "SELECT count(*) FROM campaigns c JOIN organizations o "
            "ON o.id = c.organization_id WHERE o.slug = $1",
            slug,
        )
        == 0
    )
    r = await owner.submit(page, f"/admin/{slug}/campaigns", campaign_form(receipt_eligible=""))
    assert r.status_code == 303
    # No payment account: publishing is refused with the reason.
    campaign_id = location_id(r.headers["location"])
    edit = f"/admin/{slug}/campaigns/{campaign_id}"
    r = await owner.submit(edit, f"{edit}/publish")
    assert r.status_code == 409 and "compte de paiement" in r.text  # French by default
    assert (
        await value(pf, "SELECT status FROM campaigns WHERE id = $1::uuid", campaign_id) == "draft"
    )


async def test_tier_stock_never_below_what_is_sold(pf: Platform) -> None:
    admin = await demo_admin(pf)
    campaign_id = await _create(
        admin, pf, slug="serre-2", kind="crowdfunding", ends_on="2099-12-31", receipt_eligible=""
    )
    page = f"/admin/{pf.org}/campaigns/{campaign_id}"
    r = await admin.submit(
        page,
        f"{page}/tiers",
        {
            "tier-0-title": "Graines",
            "tier-0-amount": "30",
            "tier-0-stock": "5",
            "tier-0-description": "Un sachet",
            "tier-0-counterpart": "5",
            "tier-1-title": "Atelier",
            "tier-1-amount": "100",
            "tier-1-stock": "",
        },
    )
    assert r.status_code == 303, r.text[:2000]
    tier = await row(
        pf, "SELECT * FROM tiers WHERE campaign_id = $1::uuid AND title = 'Graines'", campaign_id
    )
    assert tier["quantity_limit"] == 5 and tier["amount_minor"] == 3000
    async with pf.runtime.pool.acquire() as conn:
        await conn.execute("UPDATE tiers SET quantity_claimed = 3 WHERE id = $1", tier["id"])
    edited = {
        "tier-0-id": str(tier["id"]),
        "tier-0-title": "Graines",
        "tier-0-amount": "30",
        "tier-0-description": "Un sachet",
        "tier-0-counterpart": "5",
    }
    r = await admin.submit(page, f"{page}/tiers", {**edited, "tier-0-stock": "2"})
    assert r.status_code == 400 and 'id="tier-0-stock-error"' in r.text
    assert await value(pf, "SELECT quantity_limit FROM tiers WHERE id = $1", tier["id"]) == 5
    r = await admin.submit(page, f"{page}/tiers", {**edited, "tier-0-delete": "on"})
    assert r.status_code == 400 and 'id="tier-0-delete-error"' in r.text
    r = await admin.submit(page, f"{page}/tiers", {**edited, "tier-0-stock": "3"})
    assert r.status_code == 303
    assert await value(pf, "SELECT quantity_limit FROM tiers WHERE id = $1", tier["id"]) == 3
    api = (await pf.app.get(f"/api/v1/campaigns/{pf.seeded['campaigns'][1]['id']}")).json()
    assert api["tiers"]  # the seeded crowdfunding campaign is untouched


async def test_cover_upload_checked_reencoded_and_served(pf: Platform) -> None:
    admin = await demo_admin(pf)
    campaign_id = pf.campaign_id
    page = f"/admin/{pf.org}/campaigns/{campaign_id}"
    r = await admin.submit(page, f"{page}/cover", files={"cover": ("x.png", png(), "image/png")})
    assert r.status_code == 303, r.text[:1000]
    url = await value(pf, "SELECT cover_url FROM campaigns WHERE id = $1::uuid", campaign_id)
    assert url.startswith("/media/campaign-covers/") and url.endswith(".png")
    image = await pf.app.get(url)
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    assert image.content.startswith(b"\x89PNG")
    assert url in (await pf.app.get(f"/c/{pf.org}/dons-2026")).text
    r = await admin.submit(
        page, f"{page}/cover", files={"cover": ("x.png", b"<svg onload=alert(1)>", "image/png")}
    )
    assert r.status_code == 400 and 'id="cover-error"' in r.text
    bomb = io.BytesIO()
    Image.new("1", (12_000, 12_000)).save(bomb, format="PNG")  # small file, 144 Mpx
    r = await admin.submit(
        page, f"{page}/cover", files={"cover": ("b.png", bomb.getvalue(), "image/png")}
    )
    assert r.status_code == 400 and 'id="cover-error"' in r.text
    big = b"\x89PNG" + b"0" * (2 * 1024 * 1024 + 10)
    r = await admin.submit(page, f"{page}/cover", files={"cover": ("x.png", big, "image/png")})
    assert r.status_code == 400 and 'id="cover-error"' in r.text
    assert (
        await value(pf, "SELECT cover_url FROM campaigns WHERE id = $1::uuid", campaign_id) == url
    )


async def test_news_update_published_on_the_page(pf: Platform) -> None:
    admin = await member_client(pf, pf.org, "campaigner")
    page = f"/admin/{pf.org}/campaigns/{pf.campaign_id}"
    r = await admin.submit(
        page, f"{page}/updates", {"title": "Les ruches sont arrivées", "body_md": "Merci à *tous*"}
    )
    assert r.status_code == 303
    # The preview renders the public page uncached (the public one is cached for a second).
    assert "Les ruches sont arrivées" not in (await admin.get(f"{page}/preview")).text
    update_id = await value(
        pf, "SELECT id FROM campaign_updates WHERE title = $1", "Les ruches sont arrivées"
    )
    r = await admin.submit(
        page,
        f"{page}/updates/{update_id}",
        {"title": "Les ruches sont arrivées", "body_md": "Merci à *tous*", "publish": "on"},
    )
    assert r.status_code == 303
    for text in (
        (await admin.get(f"{page}/preview")).text,
        (await pf.app.get(f"/c/{pf.org}/dons-2026?lang=en")).text,
    ):
        assert "Les ruches sont arrivées" in text and "<em>tous</em>" in text
    r = await admin.submit(page, f"{page}/updates", {"title": "", "body_md": "x"})
    assert r.status_code == 400 and 'id="update-title-error"' in r.text


async def test_widget_snippet_with_integrity_and_live_preview(pf: Platform) -> None:
    finance = await member_client(pf, pf.org, "finance")
    r = await finance.get(f"/admin/{pf.org}/campaigns/{pf.campaign_id}/widget")
    assert r.status_code == 200
    manifest = (await pf.app.get("/widget/v1/manifest.json")).json()
    assert manifest["loader"]["integrity"] in r.text
    assert (
        f"data-campaign=&#34;{pf.campaign_id}&#34;" in r.text
        or f'data-campaign="{pf.campaign_id}"' in r.text.replace("&#34;", '"')
    )
    assert f'<iframe src="/embed/{pf.campaign_id}?lang=fr"' in r.text
    assert "frame-src 'self'" in r.headers["content-security-policy"]
    assert (await pf.app.get(f"/embed/{pf.campaign_id}?lang=fr")).status_code == 200


async def test_csrf_missing_is_refused_and_nothing_written(pf: Platform) -> None:
    admin = await demo_admin(pf)
    before = await value(pf, "SELECT count(*) FROM campaigns")
    r = await admin.post(f"/admin/{pf.org}/campaigns", data=campaign_form(slug="sans-jeton"))
    assert r.status_code == 403
    r = await admin.post(
        f"/admin/{pf.org}/campaigns", data={**campaign_form(slug="sans-jeton"), "csrf_token": "0"}
    )
    assert r.status_code == 403
    assert await value(pf, "SELECT count(*) FROM campaigns") == before


async def test_another_association_gets_404_and_changes_nothing(pf: Platform) -> None:
    other_slug = pf.seeded["other_org"]["org_slug"]
    intruder = await login(pf, await owner_of(pf, other_slug))
    ours = f"/admin/{pf.org}/campaigns/{pf.campaign_id}"
    for path in (ours, f"{ours}/widget", f"{ours}/preview", f"/admin/{pf.org}/campaigns"):
        assert (await intruder.get(path)).status_code == 404, path
    # Through their own association's URL, our campaign does not exist either.
    theirs = f"/admin/{other_slug}/campaigns/{pf.campaign_id}"
    for path in (theirs, f"{theirs}/widget", f"{theirs}/preview"):
        assert (await intruder.get(path)).status_code == 404, path
    token = await intruder.csrf(f"/admin/{other_slug}/campaigns")
    before = await row(pf, "SELECT * FROM campaigns WHERE id = $1::uuid", pf.campaign_id)
    for action in ("", "/publish", "/close", "/tiers", "/updates"):
        r = await intruder.post(
            f"{theirs}{action}", data={**campaign_form(title="Pirate"), "csrf_token": token}
        )
        assert r.status_code == 404, action
    assert await row(pf, "SELECT * FROM campaigns WHERE id = $1::uuid", pf.campaign_id) == before
