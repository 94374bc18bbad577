"""Campaign page and widget document views, as browsers send them.

Most visits take gzip; a returning visitor (or a widget reloaded by its host page) sends the
``If-None-Match`` it was given and expects a 304; a few clients ask for identity. Both
documents come from the page cache (``donate/web/page_cache.py``): totals at most a second
stale. One user class per document, so each gets its own row against the bare reference.
"""

from __future__ import annotations

from locust import task

from locustfiles.common import BUDGET, LoadUser, plan

GZIP = {"Accept-Encoding": "gzip, deflate, br", "Accept-Language": "fr-FR,fr;q=0.9"}
IDENTITY = {"Accept-Encoding": "identity", "Accept-Language": "fr-FR,fr;q=0.9"}


class Visitor(LoadUser):
    abstract = True

    def on_start(self) -> None:
        self.etags: dict[str, str] = {}

    def view(self, path: str, name: str, headers: dict[str, str], revalidate: bool) -> None:
        BUDGET.take()
        etag = self.etags.get(path) if revalidate else None
        sent = {**headers, "If-None-Match": etag} if etag else headers
        expected = 304 if etag else 200
        with self.client.get(path, name=name, headers=sent, catch_response=True) as r:
            if r.status_code != expected:
                r.failure(f"{r.status_code} (expected {expected})")
                return
            if r.status_code == 200 and r.headers.get("etag"):
                self.etags[path] = r.headers["etag"]
            r.success()


class CampaignPageVisitor(Visitor):
    @task(8)
    def first_visit(self) -> None:
        self.view(plan()["campaign_path"], "campaign page (gzip)", GZIP, revalidate=False)

    @task(5)
    def revisit(self) -> None:
        self.view(plan()["campaign_path"], "campaign page (If-None-Match)", GZIP, revalidate=True)

    @task(2)
    def no_gzip(self) -> None:
        self.view(plan()["campaign_path"], "campaign page (identity)", IDENTITY, revalidate=False)


# What widgets/src/loader.js always appends (its default language and mode), so the cache
# key and the query parsing are those of a real embed.
LOADER_QUERY = "?lang=fr&mode=inline"


class WidgetVisitor(Visitor):
    @task(8)
    def framed(self) -> None:
        path = f"/embed/{plan()['campaign_id']}{LOADER_QUERY}"
        self.view(path, "widget document (gzip)", GZIP, revalidate=False)

    @task(5)
    def reframed(self) -> None:
        path = f"/embed/{plan()['campaign_id']}{LOADER_QUERY}"
        self.view(path, "widget document (If-None-Match)", GZIP, revalidate=True)
