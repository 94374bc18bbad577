"""Accounts: sign-up, verification, login, throttling, CSRF, sessions, reset, TOTP."""

from __future__ import annotations

import io
import re
import time
from typing import Any

import pyotp
from arq.connections import ArqRedis
from PIL import Image

from tests.support.backoffice import PASSWORD, add_member, client, demo_admin, login
from tests.support.platform import Platform, SmtpOutbox

LINK = re.compile(r"(http://\S+/admin/\S+\?token=[\w-]+)")


def signup_form(**over: Any) -> dict[str, Any]:
    return {
        "legal_name": "Les Ruches du Parc",
        "slug": "",
        "address_line1": "3 allée des Tilleuls",
        "postal_code": "69003",
        "city": "Lyon",
        "country": "FR",
        "siren": "732829320",
        "rna": "",
        "object": "Protéger les abeilles du parc",
        "fiscal_qualification": "interet_general",
        "receipt_signatory_name": "Sam Rivière",
        "receipt_signatory_role": "Président",
        "color_primary": "#225588",
        "color_accent": "#ffcc00",
        "full_name": "Sam Rivière",
        "email": "sam@ruches.example",
        "password": PASSWORD,
        "password_confirm": PASSWORD,
        "accept": "yes",
        **over,
    }


def png(width: int = 40, height: int = 20) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


def last_link(outbox: SmtpOutbox, to: str) -> str:
    messages = outbox.messages(to=to)
    assert messages, f"no e-mail to {to}"
    body = messages[-1].get_body(preferencelist=("plain",))
    assert body is not None
    found = LINK.search(body.get_content())
    assert found, body.get_content()
    return found.group(1)


async def count(pf: Platform, sql: str, *args: Any) -> int:
    async with pf.runtime.pool.acquire() as conn:
        value: int = await conn.fetchval(sql, *args)
    return value


async def test_sign_up_verify_then_log_in(
    pf: Platform, redis: ArqRedis, smtp_outbox: SmtpOutbox
) -> None:
    c = client(pf)
    files = {"logo": ("logo.png", png(), "image/png"), "signature": ("s.png", png(), "image/png")}
    r = await c.submit("/admin/signup", "/admin/signup", signup_form(), files=files)
    assert r.status_code == 200, r.text
    assert "Vérifiez votre boîte" in r.text
    row = await count(
        pf,
        "SELECT count(*) FROM organizations WHERE slug = 'les-ruches-du-parc' "
        "AND logo_png IS NOT NULL AND receipt_signature_png IS NOT NULL "
        "AND color_primary = '#225588'",
    )
    assert row == 1
    # Not verified yet: the right password does not open a session.
    r = await c.submit(
        "/admin/login", "/admin/login", {"email": "sam@ruches.example", "password": PASSWORD}
    )
    assert r.status_code == 403
    assert "donate_session" not in c.cookies
    await pf.process(redis)
    link = last_link(smtp_outbox, "sam@ruches.example")
    r = await c.get(link.removeprefix(pf.app_url))
    assert r.status_code == 200, r.text
    r = await c.get(link.removeprefix(pf.app_url))  # single use
    assert r.status_code == 400
    sam = await login(pf, "sam@ruches.example")
    r = await sam.get("/admin")
    assert r.status_code == 303
    assert r.headers["location"] == "/admin/les-ruches-du-parc"
    r = await sam.get("/admin/les-ruches-du-parc/members")
    assert r.status_code == 200
    assert "sam@ruches.example" in r.text
    logo = await sam.get("/admin/les-ruches-du-parc/settings/logo.png")
    assert logo.status_code == 200
    assert Image.open(io.BytesIO(logo.content)).format == "PNG"


async def test_sign_up_errors_are_inline_and_nothing_is_saved(pf: Platform) -> None:
    c = client(pf)
    bomb = io.BytesIO()
    Image.new("1", (12000, 12000)).save(bomb, format="PNG")  # tiny file, 144 Mpx
    form = signup_form(
        legal_name="",
        siren="123456789",
        email="nope",
        password="short",
        color_primary="red",
        slug="login",
    )
    files = {
        "logo": ("x.png", bomb.getvalue(), "image/png"),
        "signature": ("x.txt", b"not an image", "text/plain"),
    }
    r = await c.submit("/admin/signup", "/admin/signup", form, files=files)
    assert r.status_code == 400
    for name in (
        "legal_name",
        "siren",
        "email",
        "password",
        "color_primary",
        "slug",
        "logo",
        "signature",
    ):
        assert f'id="{name}-error"' in r.text, name
    assert await count(pf, "SELECT count(*) FROM users WHERE email = 'nope'") == 0
    huge = b"\x89PNG" + b"0" * (2 * 1024 * 1024 + 10)
    r = await c.submit(
        "/admin/signup",
        "/admin/signup",
        signup_form(email="big@ex.example"),
        files={"logo": ("big.png", huge, "image/png")},
    )
    assert r.status_code == 400
    assert 'id="logo-error"' in r.text
    assert await count(pf, "SELECT count(*) FROM users WHERE email = 'big@ex.example'") == 0


async def test_wrong_password_and_unknown_address_look_the_same(pf: Platform) -> None:
    c = client(pf)
    wrong = await c.submit(
        "/admin/login",
        "/admin/login",
        {"email": pf.seeded["admin_email"], "password": "wrong-password"},
    )
    unknown = await c.submit(
        "/admin/login",
        "/admin/login",
        {"email": "nobody@example.org", "password": "wrong-password"},
    )
    assert wrong.status_code == unknown.status_code == 400
    assert "Adresse e-mail ou mot de passe incorrect" in wrong.text
    assert wrong.text.replace(pf.seeded["admin_email"], "X") == unknown.text.replace(
        "nobody@example.org", "X"
    ).replace(CSRF_OF(unknown.text), CSRF_OF(wrong.text))
    assert "donate_session" not in c.cookies


def CSRF_OF(text: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', text)
    assert found
    return found.group(1)


async def test_login_is_throttled_per_account(pf: Platform) -> None:
    email = await add_member(pf, pf.org, "finance")
    c = client(pf)
    for _ in range(5):
        r = await c.submit("/admin/login", "/admin/login", {"email": email, "password": "bad-pw"})
        assert r.status_code == 400
    r = await c.submit("/admin/login", "/admin/login", {"email": email, "password": PASSWORD})
    assert r.status_code == 429  # even the right password waits
    assert "donate_session" not in c.cookies


async def test_session_cookie_flags_and_demo_logins(pf: Platform) -> None:
    c = client(pf)
    r = await c.submit(
        "/admin/login",
        "/admin/login",
        {"email": pf.seeded["admin_email"], "password": pf.seeded["admin_password"]},
    )
    assert r.status_code == 303
    cookie = next(h for h in r.headers.get_list("set-cookie") if h.startswith("donate_session="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/admin" in cookie
    token = cookie.split(";")[0].split("=", 1)[1]
    stored = await count(
        pf,
        "SELECT count(*) FROM user_sessions WHERE token_hash = sha256(convert_to($1, 'UTF8'))",
        token,
    )
    assert stored == 1  # found by its hash
    assert (
        await count(
            pf,
            "SELECT count(*) FROM user_sessions WHERE encode(token_hash, "
            "'escape') LIKE '%' || $1 || '%'",
            token,
        )
        == 0
    )
    finance = await login(pf, pf.seeded["finance_email"], pf.seeded["finance_password"])
    r = await finance.get(f"/admin/{pf.org}")
    assert r.status_code == 200


async def test_csrf_missing_or_wrong_is_refused_and_nothing_written(pf: Platform) -> None:
    c = client(pf)
    await c.get("/admin/signup")  # has the pre-session cookie, but posts no token
    r = await c.post("/admin/signup", data=signup_form(email="csrf@ex.example", slug="csrf-org"))
    assert r.status_code == 403
    r = await c.post(
        "/admin/signup",
        data={**signup_form(email="csrf@ex.example", slug="csrf-org"), "csrf_token": "0" * 64},
    )
    assert r.status_code == 403
    assert await count(pf, "SELECT count(*) FROM organizations WHERE slug = 'csrf-org'") == 0
    admin = await demo_admin(pf)
    other = await demo_admin(pf)
    keys_before = await count(pf, "SELECT count(*) FROM api_keys")
    # Another session's token is not this session's token.
    stolen = await other.csrf(f"/admin/{pf.org}/api-keys")
    for token in ("", stolen):
        r = await admin.post(
            f"/admin/{pf.org}/api-keys", data={"name": "x", "role": "admin", "csrf_token": token}
        )
        assert r.status_code == 403
    assert await count(pf, "SELECT count(*) FROM api_keys") == keys_before


async def test_log_out_other_sessions(pf: Platform) -> None:
    email = await add_member(pf, pf.org, "admin")
    laptop, phone = await login(pf, email), await login(pf, email)
    r = await laptop.get("/admin/account")
    assert r.text.count("<tr>") >= 3  # header + two sessions
    r = await laptop.submit("/admin/account", "/admin/account/sessions/revoke-others")
    assert r.status_code == 303
    assert (await phone.get(f"/admin/{pf.org}")).status_code == 303  # to the login page
    assert (await laptop.get(f"/admin/{pf.org}")).status_code == 200
    r = await laptop.submit("/admin/account", "/admin/logout")
    assert r.status_code == 303
    laptop.cookies.clear()
    assert (await laptop.get(f"/admin/{pf.org}")).status_code == 303


async def test_password_reset_is_single_use_and_expires(
    pf: Platform, redis: ArqRedis, smtp_outbox: SmtpOutbox
) -> None:
    email = await add_member(pf, pf.org, "finance")
    old_session = await login(pf, email)
    c = client(pf)
    r = await c.submit("/admin/password/forgot", "/admin/password/forgot", {"email": email})
    assert r.status_code == 200
    unknown = await c.submit(
        "/admin/password/forgot", "/admin/password/forgot", {"email": "ghost@example.org"}
    )
    assert unknown.status_code == 200
    await pf.process(redis)
    assert smtp_outbox.messages(to="ghost@example.org") == []
    link = last_link(smtp_outbox, email).removeprefix(pf.app_url)
    new = "a brand new passphrase"
    r = await c.submit(
        link,
        "/admin/password/reset",
        {"token": link.split("token=")[1], "password": new, "password_confirm": new},
    )
    assert r.status_code == 303
    assert (await old_session.get(f"/admin/{pf.org}")).status_code == 303  # sessions ended
    assert (await c.get(link)).status_code == 400  # used up
    await login(pf, email, new)
    # An expired link is refused.
    await c.submit("/admin/password/forgot", "/admin/password/forgot", {"email": email})
    await pf.process(redis)
    link = last_link(smtp_outbox, email).removeprefix(pf.app_url)
    async with pf.runtime.pool.acquire() as conn:
        await conn.execute(
            "UPDATE user_tokens SET expires_at = now() - interval '1 second' WHERE used_at IS NULL"
        )
    assert (await c.get(link)).status_code == 400


async def test_totp_second_factor(pf: Platform) -> None:
    email = await add_member(pf, pf.org, "admin")
    c = await login(pf, email)
    r = await c.get("/admin/account/totp")
    secret = re.search(r'<code class="secret">([A-Z2-7]+)</code>', r.text)
    assert secret
    totp = pyotp.TOTP(secret.group(1))
    r = await c.submit("/admin/account/totp", "/admin/account/totp", {"code": "000000"})
    assert r.status_code == 400
    r = await c.submit("/admin/account/totp", "/admin/account/totp", {"code": totp.now()})
    assert r.status_code == 303
    stored = await count(
        pf,
        "SELECT count(*) FROM users WHERE lower(email) = $1 "
        "AND totp_secret_encrypted IS NOT NULL "
        "AND position($2::bytea in totp_secret_encrypted) = 0",
        email,
        secret.group(1).encode(),
    )
    assert stored == 1  # encrypted at rest
    # A new login stops at the second factor; the half-open session opens nothing.
    d = client(pf)
    r = await d.submit("/admin/login", "/admin/login", {"email": email, "password": PASSWORD})
    assert r.headers["location"].startswith("/admin/login/totp")
    assert (await d.get(f"/admin/{pf.org}")).status_code == 303
    half_open = d.cookies["donate_session"]
    code = totp.at(time.time() + 30)  # the next step: the current one was used at set-up
    r = await d.submit("/admin/login/totp", "/admin/login/totp", {"code": code})
    assert r.status_code == 303
    assert d.cookies["donate_session"] != half_open  # a new session, not the half-open one
    assert (await d.get(f"/admin/{pf.org}")).status_code == 200
    # The same code cannot be used twice.
    e = client(pf)
    await e.submit("/admin/login", "/admin/login", {"email": email, "password": PASSWORD})
    r = await e.submit("/admin/login/totp", "/admin/login/totp", {"code": code})
    assert r.status_code == 400


async def test_sign_up_with_a_known_address_tells_nothing_and_mails_the_owner(
    pf: Platform, redis: ArqRedis, smtp_outbox: SmtpOutbox
) -> None:
    c = client(pf)
    known = pf.seeded["admin_email"]
    before = len(smtp_outbox.messages(to=known))
    form = signup_form(email=known, slug="copie-jardin", siren="", rna="W751111111")
    r = await c.submit("/admin/signup", "/admin/signup", form)
    assert r.status_code == 200
    assert "Vérifiez votre boîte" in r.text  # the same answer as a new address
    assert await count(pf, "SELECT count(*) FROM organizations WHERE slug = 'copie-jardin'") == 0
    await pf.process(redis)
    mails = smtp_outbox.messages(to=known)
    assert len(mails) == before + 1
    assert "déjà un compte" in str(mails[-1]["Subject"])


async def test_login_never_redirects_off_site_and_speaks_english(pf: Platform) -> None:
    c = client(pf)
    r = await c.get("/admin/login?lang=en")
    assert 'lang="en"' in r.text and "Forgot your password?" in r.text
    assert (await c.get("/admin/login")).text.count("Forgot your password?") == 1  # remembered
    token = await c.csrf("/admin/login")
    r = await c.post(
        "/admin/login",
        data={
            "email": pf.seeded["admin_email"],
            "password": pf.seeded["admin_password"],
            "next": "//evil.example/admin",
            "csrf_token": token,
        },
    )
    assert r.status_code == 303
    assert r.headers["location"] == "/admin"
