"""The public campaign page: content, languages, safety of what donors and associations
write, and the plain HTML form (no JavaScript) that starts a checkout."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest
from arq.connections import ArqRedis
from PIL import Image

from donate.domain.money import Money
from donate.domain.tax import cost_after_reduction, tax_reduction
from tests.support.platform import Platform, donor
from tests.web_pages.helpers import add_campaign, add_update, page_until

NBSP = "\u00a0"


def text(html: str) -> str:
    """Visible-ish text: tags dropped, entities decoded, every kind of space made plain."""
    plain = unescape(re.sub(r"<[^>]+>", " ", html))
    return re.sub(r"[\s\u00a0\u202f]+", " ", plain)


def form_body(**over: str) -> dict[str, str]:
    return {
        "amount": "other",
        "amount_other": "12,50",
        "email": "grace@example.org",
        "first_name": "Grace",
        "last_name": "Hopper",
        "tip": "0",
        **over,
    }


@pytest.mark.parametrize(
    ("gift", "bps", "cost"),
    [
        (10_000, 6600, 3_400),
        (10_000, 7500, 2_500),
        (101, 6600, 35),
        (1, 6600, 1),
        (5_000, 0, 5_000),
    ],
)
def test_tax_reduction_arithmetic(gift: int, bps: int, cost: int) -> None:
    amount = Money(gift, "EUR")
    assert cost_after_reduction(amount, bps) == Money(cost, "EUR")
    # The reduction is rounded down: we never promise more than the law gives.
    assert tax_reduction(amount, bps).minor * 10_000 <= gift * bps


def test_unknown_reduction_rate_is_refused() -> None:
    with pytest.raises(ValueError, match="unsupported"):
        cost_after_reduction(Money(100, "EUR"), 5000)


async def test_page_in_french_by_default(pf: Platform) -> None:
    r = await pf.app.get(f"/c/{pf.org}/dons-2026")
    assert r.status_code == 200
    assert r.headers["content-language"] == "fr"
    assert "Accept-Language" in r.headers["vary"]
    assert "script-src" not in r.headers["content-security-policy"]  # no script at all
    html = r.text
    assert '<html lang="fr">' in html
    assert "Soutenez le jardin en 2026" in html
    page = text(html)
    assert "Un don de 100,00 € ne vous coûte que 34,00 € après réduction d'impôt" in page
    assert "collectés sur 10 000,00 €" in page
    base = pf.app_url
    assert f'<link rel="canonical" href="{base}/c/{pf.org}/dons-2026">' in html
    assert '<meta property="og:title" content="Soutenez le jardin en 2026">' in html
    assert f'content="{base}/c/{pf.org}/dons-2026/share.png?lang=fr"' in html
    assert '<meta name="twitter:card" content="summary_large_image">' in html
    assert 'action="/c/jardin-partage/dons-2026/donate"' in html
    assert "<script" not in html


async def test_page_in_english_by_header_or_switch(pf: Platform) -> None:
    by_header = await pf.app.get(
        f"/c/{pf.org}/dons-2026", headers={"Accept-Language": "en-GB,en;q=0.9,fr;q=0.5"}
    )
    by_switch = await pf.app.get(f"/c/{pf.org}/dons-2026?lang=en")
    for r in (by_header, by_switch):
        assert r.status_code == 200
        assert r.headers["content-language"] == "en"
        page = text(r.text)
        assert "A gift of €100.00 only costs you €34.00 after tax reduction." in page
        assert "raised of €10,000.00" in page
    assert "vary" not in by_switch.headers or "Accept-Language" not in by_switch.headers["vary"]
    fr = await pf.app.get(f"/c/{pf.org}/dons-2026?lang=fr", headers={"Accept-Language": "en"})
    assert fr.headers["content-language"] == "fr"


async def test_coluche_rate_and_no_line_without_receipts(pf: Platform) -> None:
    async with pf.runtime.pool.acquire() as conn:
        await conn.execute(
            "UPDATE organizations SET tax_reduction_bps = 7500 WHERE slug = 'association-voisine'"
        )
    r = await pf.app.get("/c/association-voisine/dons-2026")
    assert "ne vous coûte que 25,00 €" in text(r.text)
    await add_campaign(pf, "sans-recu", receipt_eligible=False)
    r = await pf.app.get(f"/c/{pf.org}/sans-recu")
    assert r.status_code == 200
    assert "réduction d'impôt" not in text(r.text)
    assert "wants_receipt" not in r.text


async def test_crowdfunding_tiers_progress_and_time_left(pf: Platform) -> None:
    r = await pf.app.get(f"/c/{pf.org}/serre-solidaire")
    page = text(r.text)
    assert "Sachet de graines à partir de 40,00 €" in page
    assert "200 restants" in page
    assert "Atelier bouturage" in page
    assert re.search(r"encore (44|45) jours", page), page
    assert 'role="progressbar"' in r.text


async def test_unknown_and_draft_campaigns_are_404(pf: Platform) -> None:
    await add_campaign(pf, "brouillon", status="draft")
    for path in (f"/c/{pf.org}/nope", f"/c/{pf.org}/brouillon", "/c/nobody/dons-2026"):
        r = await pf.app.get(path)
        assert r.status_code == 404
        assert "Campagne introuvable" in r.text


async def test_story_donor_names_and_updates_are_escaped(pf: Platform, redis: ArqRedis) -> None:
    evil = '<img src=x onerror="alert(1)">'
    campaign_id = await add_campaign(
        pf,
        "xss",
        story_md=f"Intro **gras** {evil} <script>alert(2)</script> [lien](javascript:alert(3))",
    )
    await add_update(pf, campaign_id, f"Nouvelles {evil}", "Texte <script>alert(4)</script>")
    co = await pf.checkout(
        "stripe",
        3000,
        campaign_id=campaign_id,
        donor=donor(first_name=f"<script>alert(5)</script>{evil}", last_name="Zed"),
        message=f"Bravo {evil}",
    )
    await pf.settle(co.checkout_id, "paid")
    await pf.deliver_and_process(redis)

    r = await page_until(pf, f"/c/{pf.org}/xss", lambda r: "Ils ont donné" in r.text)
    html = r.text
    assert "<strong>gras</strong>" in html
    for needle in ("<script>alert", "<img src=x", 'href="javascript:', 'onerror="alert'):
        assert needle not in html
    assert "&lt;script&gt;alert(5)&lt;/script&gt;" in html
    assert "Nouvelles &lt;img" in html
    assert "Bravo &lt;img" in html
    assert "30,00 €" in text(html)


async def test_donor_wall_respects_each_donors_choice(pf: Platform, redis: ArqRedis) -> None:
    campaign_id = await add_campaign(pf, "mur")
    shown = await pf.checkout(
        "stripe", 1111, campaign_id=campaign_id, donor=donor(first_name="Marie", last_name="Curie")
    )
    anonymous = await pf.checkout(
        "stripe", 2222, campaign_id=campaign_id, anonymous=True,
        donor=donor(email="p@example.org", first_name="Pierre", last_name="Curie"),
    )  # fmt: skip
    hidden = await pf.checkout(
        "stripe", 3333, campaign_id=campaign_id, hide_amount=True,
        donor=donor(email="i@example.org", first_name="Irène", last_name="Joliot"),
    )  # fmt: skip
    unpaid = await pf.checkout(
        "stripe",
        4444,
        campaign_id=campaign_id,
        donor=donor(email="u@example.org", first_name="Unpaid"),
    )
    for co in (shown, anonymous, hidden):
        await pf.settle(co.checkout_id, "paid")
    await pf.deliver_and_process(redis)
    for co in (shown, anonymous, hidden):
        assert await pf.status(co.donation_id) == "paid"
    assert await pf.status(unpaid.donation_id) == "pending"

    r = await page_until(pf, f"/c/{pf.org}/mur", lambda r: "Irène J." in r.text)
    page = text(r.text)
    assert "Marie C. · 11,11 €" in page
    assert "Donateur anonyme · 22,22 €" in page
    assert "Pierre" not in page
    assert "Irène J." in page and "33,33 €" not in page
    assert "Unpaid" not in page and "44,44 €" not in page
    assert "3 donateurs" in page
    assert "66,66 €" in page  # raised


async def test_form_without_javascript_redirects_to_the_checkout(pf: Platform) -> None:
    r = await pf.app.post(f"/c/{pf.org}/dons-2026/donate", data=form_body())
    assert r.status_code == 303, r.text
    assert r.headers["location"].startswith(f"{pf.sandbox_url}/pay/")
    async with pf.runtime.pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT d.amount_minor, d.tip_minor, d.wants_receipt FROM donations d "
            "JOIN donors p ON p.id = d.donor_id WHERE p.email = 'grace@example.org'"
        )
    assert (row["amount_minor"], row["tip_minor"], row["wants_receipt"]) == (1250, 0, False)


async def test_monthly_gift_from_the_page_starts_a_recurring_plan(
    pf: Platform, redis: ArqRedis
) -> None:
    """The page offers monthly and yearly gifts; choosing one opens a subscription checkout
    and, once paid, an active plan (issue 8 does the rest)."""
    body = form_body(frequency="monthly", email="monthly-page@example.org")
    r = await pf.app.post(f"/c/{pf.org}/dons-2026/donate", data=body)
    assert r.status_code == 303, r.text
    checkout_id = r.headers["location"].rsplit("/", 1)[1]
    await pf.settle(checkout_id, "paid")
    await pf.deliver_and_process(redis)
    async with pf.runtime.pool.acquire() as conn:
        plan = await conn.fetchrow(
            "SELECT p.status, p.frequency, p.amount_minor, d.frequency AS donation_frequency "
            "FROM recurring_plans p JOIN donations d ON d.id = p.first_donation_id "
            "JOIN donors o ON o.id = d.donor_id WHERE o.email = 'monthly-page@example.org'"
        )
    assert plan is not None
    assert (plan["status"], plan["frequency"], plan["amount_minor"]) == ("active", "monthly", 1250)
    assert plan["donation_frequency"] == "monthly"


@pytest.mark.parametrize(
    ("over", "status", "message"),
    [
        ({"amount_other": "douze"}, 422, "Indiquez un montant, par exemple 25 ou 12,50."),
        ({"amount_other": "0,50"}, 422, "Le don minimum est de 1,00 €."),
        ({"amount_other": "20000000"}, 422, "Le don maximum est de 10 000,00 €."),
        ({"email": "nope"}, 422, "Indiquez une adresse e-mail valide."),
        ({"wants_receipt": "1"}, 422, "Obligatoire pour un reçu fiscal."),
        ({"tip": "-3"}, 422, "Indiquez un montant, par exemple 2 ou 2,50 (ou 0)."),
        ({"frequency": "weekly"}, 422, "Choisissez la fréquence de votre don."),
    ],
)
async def test_form_errors_are_explained_next_to_the_fields(
    pf: Platform, over: dict[str, str], status: int, message: str
) -> None:
    body = form_body(**over, message="<b>keep me</b>")
    r = await pf.app.post(f"/c/{pf.org}/dons-2026/donate", data=body)
    assert r.status_code == status
    assert r.headers["cache-control"] == "no-store"
    assert message in text(r.text)
    if "frequency" not in over:  # a radio group has no aria-invalid; its message is linked
        assert 'aria-invalid="true"' in r.text
    assert 'role="alert"' in r.text
    assert "&lt;b&gt;keep me&lt;/b&gt;" in r.text  # what the donor typed comes back, escaped


async def test_form_in_english_and_with_a_dot(pf: Platform) -> None:
    body = form_body(amount_other="abc", lang="en")
    r = await pf.app.post(f"/c/{pf.org}/dons-2026/donate", data=body)
    assert r.status_code == 422
    assert "Please enter an amount such as 25 or 12,50." in r.text
    ok = await pf.app.post(f"/c/{pf.org}/dons-2026/donate", data=form_body(amount_other="12.50"))
    assert ok.status_code == 303


async def test_closed_and_ended_campaigns_take_no_gifts(pf: Platform) -> None:
    now = datetime.now(UTC)
    await add_campaign(pf, "close", status="closed")
    await add_campaign(
        pf, "finie", starts_at=now - timedelta(days=20), ends_at=now - timedelta(days=1)
    )
    for slug, notice in (
        ("close", "Cette campagne est close et ne reçoit plus de dons."),
        ("finie", "Cette campagne est terminée."),
    ):
        r = await pf.app.get(f"/c/{pf.org}/{slug}")
        assert r.status_code == 200
        assert notice in text(r.text)
        assert "<form" not in r.text
        posted = await pf.app.post(f"/c/{pf.org}/{slug}/donate", data=form_body())
        assert posted.status_code == 409
        assert "Les dons ne sont pas possibles sur cette campagne." in text(posted.text)
    async with pf.runtime.pool.acquire() as conn:
        count = await conn.fetchval(
            "SELECT count(*) FROM donations d JOIN campaigns c ON c.id = d.campaign_id "
            "WHERE c.slug IN ('close', 'finie')"
        )
    assert count == 0


async def test_share_image_is_a_png(pf: Platform) -> None:
    r = await pf.app.get(f"/c/{pf.org}/serre-solidaire/share.png")
    assert r.status_code == 200
    assert r.headers["content-type"] == "image/png"
    assert r.content.startswith(b"\x89PNG\r\n\x1a\n")
    assert Image.open(io.BytesIO(r.content)).size == (1200, 630)


async def test_gzip_and_etag(pf: Platform) -> None:
    r = await pf.app.get(f"/c/{pf.org}/dons-2026", headers={"Accept-Encoding": "gzip"})
    assert r.headers["content-encoding"] == "gzip"
    again = await pf.app.get(f"/c/{pf.org}/dons-2026", headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code in (200, 304)  # 200 only if the totals changed in between
