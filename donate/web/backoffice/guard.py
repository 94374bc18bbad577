"""The guard of every back-office route.

    member = await require_member(request, guard.FINANCE)   # /admin/{org}/...
    form = await read_form(request)                          # POST: checks the CSRF token
    return render(request, "admin/page.html", {...})

``require_member`` answers, by raising ``PageError`` (rendered by ``page_error``):
303 to the login page when nobody is signed in (or the second factor is pending), 404 when
the user is not a member of the ``{org}`` of the URL (as if it did not exist), 403 when their
role may not use the page. ``read_form`` answers 403 when the CSRF token is missing or
wrong, before the handler writes anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote
from uuid import UUID

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from donate.db.users import Membership
from donate.security.tokens import csrf_valid
from donate.services import accounts_sessions
from donate.services.accounts_sessions import Current
from donate.web.backoffice import session as cookies
from donate.web.backoffice.render import (
    CURRENT_KEY,
    MEMBER_KEY,
    csrf_binding,
    current_of,
    render,
    secret,
)
from donate.web.state import app_state

ALL: tuple[str, ...] = ("owner", "admin", "campaigner", "finance")
MANAGERS: tuple[str, ...] = ("owner", "admin")  # members, API keys, settings, payments, webhooks
CAMPAIGN_EDITORS: tuple[str, ...] = ("owner", "admin", "campaigner")
FINANCE: tuple[str, ...] = ("owner", "admin", "finance")  # donations, receipts, payouts, exports
OWNERS: tuple[str, ...] = ("owner",)  # audit log

# Navigation: (area, path under /admin/{org}, message id, roles allowed to open it).
NAV: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("dashboard", "", "Dashboard", ALL),
    ("campaigns", "/campaigns", "Campaigns", ALL),
    ("donations", "/donations", "Donations", FINANCE),
    ("donors", "/donors", "Donors", FINANCE),
    ("receipts", "/receipts", "Receipts", FINANCE),
    ("payouts", "/payouts", "Payouts", FINANCE),
    ("exports", "/exports", "Report exports", FINANCE),
    ("recurring", "/recurring", "Recurring", FINANCE),
    ("webhooks", "/webhooks", "Webhooks", MANAGERS),
    ("api_keys", "/api-keys", "API keys", MANAGERS),
    ("members", "/members", "Members", MANAGERS),
    ("payments", "/payments", "Payment accounts", MANAGERS),
    ("settings", "/settings", "Settings", MANAGERS),
    ("audit", "/audit", "Audit log", OWNERS),
)

MAX_FORM_BYTES = 6 * 1024 * 1024  # two 2 MB images and the fields, with room for encoding


class PageError(Exception):
    """Stops a back-office request with a redirect or an error page."""

    def __init__(self, status: int, location: str | None = None, message: str = "") -> None:
        super().__init__(message or str(status))
        self.status = status
        self.location = location
        self.message = message


@dataclass(frozen=True, slots=True)
class Member:
    """The signed-in user acting for one association (the ``{org}`` of the URL)."""

    user_id: UUID
    email: str
    full_name: str
    organization_id: UUID
    org_slug: str
    org_name: str
    role: str
    session_id: UUID

    @property
    def actor(self) -> str:
        """How the audit log names this person."""
        return f"user:{self.user_id}"

    @property
    def base(self) -> str:
        """``/admin/{org}``: prefix of the association's pages."""
        return f"/admin/{quote(self.org_slug)}"

    def can(self, roles: tuple[str, ...]) -> bool:
        return self.role in roles

    def nav(self) -> list[tuple[str, str, str]]:
        """(area, href, message id) of the pages this member may open."""
        return [(a, self.base + p, label) for a, p, label, roles in NAV if self.role in roles]


def login_redirect(request: Request) -> PageError:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return PageError(303, f"/admin/login?next={quote(target, safe='')}")


async def load_current(request: Request) -> Current | None:
    """The session and user of the request's cookie (cached on the request), or None."""
    cur = current_of(request)
    if cur is None:
        token = cookies.session_token(request)
        cur = await accounts_sessions.current(app_state(request).runtime, token) if token else None
        if cur is not None:
            request.scope[CURRENT_KEY] = cur
    return cur


async def require_user(request: Request) -> Current:
    """A signed-in user (second factor passed), whatever their associations."""
    cur = await load_current(request)
    if cur is None or cur.session.mfa_pending:
        raise login_redirect(request)
    return cur


async def require_member(request: Request, roles: tuple[str, ...] = ALL) -> Member:
    cur = await require_user(request)
    slug = request.path_params.get("org", "")
    found: Membership | None = next((m for m in cur.memberships if m.org_slug == slug), None)
    if found is None:
        raise PageError(404)
    member = Member(
        cur.user.id, cur.user.email, cur.user.full_name, found.organization_id, found.org_slug,
        found.org_name, found.role, cur.session.id,
    )  # fmt: skip
    request.scope[MEMBER_KEY] = member
    if found.role not in roles:
        raise PageError(403)
    if cur.session.organization_id != found.organization_id:
        await accounts_sessions.remember_organization(
            app_state(request).runtime, cur.session.id, found.organization_id
        )
    return member


async def read_form(request: Request, *, max_files: int = 0) -> FormData:
    """The POSTed form once its CSRF token checks out (403 otherwise, nothing done)."""
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > MAX_FORM_BYTES:
        raise PageError(413, message="The form is too large.")
    form = await request.form(max_files=max_files, max_fields=100)
    presented = str(form.get("csrf_token") or "")
    if not csrf_valid(secret(request), csrf_binding(request), presented):
        await form.close()
        raise PageError(403, message="csrf")
    return form


def field(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


async def page_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PageError)
    if exc.location is not None:
        return RedirectResponse(exc.location, status_code=exc.status)
    return render(
        request, "admin/error.html", {"status": exc.status, "reason": exc.message},
        status=exc.status,
    )  # fmt: skip


EXCEPTION_HANDLERS = {PageError: page_error}
