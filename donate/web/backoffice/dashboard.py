"""``/admin/{org}``: the association's dashboard.

Every member sees the campaigns' totals and the chart; the lists naming donors, the
receipt e-mails and the payout lines are for finance (owner, admin, finance) only.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from donate.domain.money import Money
from donate.i18n import format_date, format_money
from donate.services import campaign_admin, dashboard
from donate.services.dashboard import DayPoint
from donate.web.backoffice.dashboard_chart import gifts_svg
from donate.web.backoffice.guard import ALL, FINANCE, require_member
from donate.web.backoffice.render import language, render
from donate.web.state import app_state
from donate.web.templating import gettext_for


async def dashboard_page(request: Request) -> Response:
    member = await require_member(request, ALL)
    rt = app_state(request).runtime
    lang = language(request)
    org = await campaign_admin.organization(rt, member.organization_id)
    currency = str(org["currency"]).strip()
    data = await dashboard.load(rt, member.organization_id, currency=currency)
    _ = gettext_for(lang)
    total = sum(p.total_minor for p in data.series)
    gifts = sum(p.gifts for p in data.series)

    def money(minor: int) -> str:
        return format_money(Money(minor, currency), lang)

    def day_label(p: DayPoint) -> str:
        return format_date(p.day, lang, "d MMM")

    chart = gifts_svg(
        data.series,
        title=_("Gifts over the last 30 days"),
        description=_("%(total)s given in %(gifts)d gifts over 30 days.")
        % {"total": money(total), "gifts": gifts},
        money=money,
        day_label=day_label,
    )
    ctx = {
        "d": data,
        "chart": chart,
        "chart_total": money(total),
        "chart_gifts": gifts,
        "day_label": day_label,
        "finance": member.can(FINANCE),
        "area": "dashboard",
    }
    return render(request, "admin/dashboard.html", ctx)


routes = [Route("/admin/{org}", dashboard_page, methods=["GET"])]
