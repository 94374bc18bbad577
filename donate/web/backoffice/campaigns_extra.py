"""Around a campaign: its tiers, cover image, news updates and the widget snippet.

``/media/campaign-covers/{id}.png`` serves covers to everyone (the public page shows them):
an image id is random and each upload gets a new one, so it is cached for good.
"""

from __future__ import annotations

from uuid import UUID

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from donate.services import campaign_admin
from donate.services.accounts import Upload
from donate.services.accounts_images import MAX_UPLOAD_BYTES
from donate.services.errors import InvalidRequest, NotFound
from donate.web.assets import manifest
from donate.web.backoffice.campaigns import campaign_id_of, editor_page, load, who
from donate.web.backoffice.guard import (
    ALL,
    CAMPAIGN_EDITORS,
    PageError,
    field,
    read_form,
    require_member,
)
from donate.web.backoffice.render import HEADERS, language, render
from donate.web.state import app_state


async def tiers(request: Request) -> Response:
    member = await require_member(request, CAMPAIGN_EDITORS)
    campaign = await load(request, member)
    form = await read_form(request)
    raw = {k: str(v) for k, v in form.items() if k.startswith("tier-") and isinstance(v, str)}
    try:
        await campaign_admin.save_tiers(
            app_state(request).runtime, member.organization_id, campaign.id, raw,
            language(request), who(request, member),
        )  # fmt: skip
    except InvalidRequest as exc:
        return await editor_page(request, member, campaign, tier_values=raw,
                             tier_errors=exc.errors, status=400)  # fmt: skip
    return RedirectResponse(
        f"{member.base}/campaigns/{campaign.id}?done=tiers#tiers", status_code=303
    )


async def cover(request: Request) -> Response:
    member = await require_member(request, CAMPAIGN_EDITORS)
    campaign = await load(request, member)
    form = await read_form(request, max_files=1)
    upload = None
    value = form.get("cover")
    if isinstance(value, UploadFile):
        data = await value.read(MAX_UPLOAD_BYTES + 1)
        upload = Upload(data[:MAX_UPLOAD_BYTES], too_large=len(data) > MAX_UPLOAD_BYTES)
    remove = field(form, "remove") == "1"
    await form.close()
    if upload is None and not remove:
        upload = Upload(b"")  # nothing chosen: the service says so
    try:
        await campaign_admin.set_cover(
            app_state(request).runtime, member.organization_id, campaign.id,
            None if remove else upload, who(request, member),
        )  # fmt: skip
    except InvalidRequest as exc:
        return await editor_page(request, member, campaign, errors=exc.errors, status=400)
    return RedirectResponse(
        f"{member.base}/campaigns/{campaign.id}?done=cover#cover", status_code=303
    )


async def save_update(request: Request) -> Response:
    member = await require_member(request, CAMPAIGN_EDITORS)
    campaign = await load(request, member)
    update_id = None
    if "update_id" in request.path_params:
        update_id = campaign_id_of(request, "update_id")
    form = await read_form(request)
    raw = {k: field(form, k) for k in ("title", "body_md", "publish")}
    try:
        await campaign_admin.save_update(
            app_state(request).runtime, member.organization_id, campaign.id, update_id, raw,
            who(request, member),
        )  # fmt: skip
    except NotFound:
        raise PageError(404) from None
    except InvalidRequest as exc:
        errors = {f"update-{k}": v for k, v in exc.errors.items()}
        return await editor_page(request, member, campaign, errors=errors, status=400)
    return RedirectResponse(
        f"{member.base}/campaigns/{campaign.id}?done=update#updates", status_code=303
    )


def snippet(base: str, campaign_id: UUID, lang: str) -> str:
    """The tag to paste on the association's site: the pinned loader with its SRI hash."""
    loader = manifest(base)["loader"]
    assert isinstance(loader, dict)
    lang_attr = ' data-lang="en"' if lang == "en" else ""
    return (
        f'<script src="{loader["url"]}"\n        integrity="{loader["integrity"]}" '
        f'crossorigin="anonymous"\n        data-campaign="{campaign_id}"{lang_attr} async>'
        "</script>"
    )


async def widget(request: Request) -> Response:
    member = await require_member(request, ALL)
    campaign = await load(request, member)
    lang = language(request)
    base = app_state(request).runtime.settings.public_url.rstrip("/")
    ctx = {
        "c": campaign,
        "snippet": snippet(base, campaign.id, lang),
        "embed_url": f"/embed/{campaign.id}?lang={lang}",
        "page_url": f"{base}/c/{member.org_slug}/{campaign.slug}",
        "manifest_url": f"{base}/widget/v1/manifest.json",
        "area": "campaigns",
    }
    response = render(request, "admin/campaign_widget.html", ctx)
    # The live preview frames our own /embed document; nothing else may be framed.
    response.headers["Content-Security-Policy"] = HEADERS["Content-Security-Policy"] + \
        "; frame-src 'self'"  # fmt: skip
    return response


async def cover_image(request: Request) -> Response:
    raw = str(request.path_params["image"])
    try:
        image_id = UUID(raw.removesuffix(".png"))
    except ValueError:
        return Response(status_code=404)
    found = await campaign_admin.cover_image(app_state(request).runtime, image_id)
    if found is None or not raw.endswith(".png"):
        return Response(status_code=404)
    png, digest = found
    return Response(
        png, media_type="image/png",
        headers={"Cache-Control": "public, max-age=31536000, immutable", "ETag": f'"{digest}"',
                 "X-Content-Type-Options": "nosniff",
                 "Content-Security-Policy": "default-src 'none'",
                 "Cross-Origin-Resource-Policy": "cross-origin"},
    )  # fmt: skip


_C = "/admin/{org}/campaigns/{campaign_id}"
routes = [
    Route(f"{_C}/tiers", tiers, methods=["POST"]),
    Route(f"{_C}/cover", cover, methods=["POST"]),
    Route(f"{_C}/updates", save_update, methods=["POST"]),
    Route(f"{_C}/updates/{{update_id}}", save_update, methods=["POST"]),
    Route(f"{_C}/widget", widget, methods=["GET"]),
    Route("/media/campaign-covers/{image}", cover_image, methods=["GET", "HEAD"]),
]
