"""The association back-office, server-rendered under ``/admin`` (see ``guard`` for the
session/role layer every page goes through)."""

from __future__ import annotations

from starlette.routing import BaseRoute

from donate.web.backoffice import (
    account_routes,
    audit_pages,
    auth_routes,
    campaigns,
    campaigns_extra,
    dashboard,
    donations,
    donations_payouts,
    donors,
    exports_pages,
    keys_routes,
    members_routes,
    org_routes,
    receipts_pages,
    recurring_pages,
    static,
    webhooks_deliveries,
    webhooks_pages,
)
from donate.web.backoffice.guard import EXCEPTION_HANDLERS

# Fixed paths first: ``/admin/{org}`` must not swallow ``/admin/login`` and friends.
routes: list[BaseRoute] = [
    *static.routes,
    *auth_routes.routes,
    *account_routes.routes,
    *members_routes.routes,
    *keys_routes.routes,
    *dashboard.routes,
    *campaigns.routes,
    *campaigns_extra.routes,
    *donations.routes,
    *donations_payouts.routes,
    *donors.routes,
    *org_routes.routes,
    *recurring_pages.routes,
    *receipts_pages.routes,
    *webhooks_pages.routes,
    *webhooks_deliveries.routes,
    *audit_pages.routes,
    *exports_pages.routes,
]

__all__ = ["EXCEPTION_HANDLERS", "routes"]
