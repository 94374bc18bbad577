"""The widget's served files: built from widgets/src, small, pinned by their SRI hash; the
iframe document's headers; the French catalog covers every message."""

from __future__ import annotations

import base64
import gzip
import hashlib
import importlib.util
import re
from pathlib import Path

from babel.messages.extract import extract_from_dir

from donate.web.assets import STATIC
from donate.web.templating import LOCALE_DIR, translations
from tests.support.platform import Platform

ROOT = Path(__file__).resolve().parents[2]


def _build() -> dict[str, str]:
    spec = importlib.util.spec_from_file_location("widget_build", ROOT / "widgets" / "build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    built: dict[str, str] = module.build()
    return built


def test_served_files_are_built_from_the_sources() -> None:
    for name, content in _build().items():
        assert (STATIC / name).read_text() == content, f"run: python widgets/build.py ({name})"


def test_size_budget() -> None:
    def gz(name: str) -> int:
        return len(gzip.compress((STATIC / name).read_bytes(), compresslevel=9))

    assert gz("widget.js") <= 2048
    assert gz("embed.js") + gz("donate.css") <= 25 * 1024 - 8 * 1024  # leaves 8 KB of HTML


def test_every_message_has_a_french_translation() -> None:
    method_map = [("**/templates/**.html", "jinja2"), ("**.py", "python")]
    options = {"**/templates/**.html": {"extensions": "jinja2.ext.i18n"}}
    french = translations("fr")
    missing = []
    for _file, _line, message, _comments, _ctx in extract_from_dir(
        ROOT / "donate" / "web", method_map, options_map=options
    ):
        msgid = message[0] if isinstance(message, tuple) else message
        if french.gettext(msgid) == msgid and msgid not in ("E-mail",):
            missing.append(msgid)
    assert missing == [], f"add them to {LOCALE_DIR}/fr/LC_MESSAGES/messages.po"


async def test_manifest_pins_the_loader(pf: Platform) -> None:
    manifest = (await pf.app.get("/widget/v1/manifest.json")).json()
    r = await pf.app.get("/widget/v1/widget.js")
    assert r.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert r.headers["access-control-allow-origin"] == "*"
    digest = base64.b64encode(hashlib.sha384(r.content).digest()).decode()
    assert manifest["loader"]["integrity"] == f"sha384-{digest}"
    assert manifest["loader"]["url"] == f"{pf.app_url}/widget/v1/widget.js"
    moving = await pf.app.get("/widget.js")
    assert moving.content == r.content
    assert moving.headers["cache-control"] == "public, max-age=300"


async def test_embed_document_headers_and_unknown_campaigns(pf: Platform) -> None:
    r = await pf.app.get(f"/embed/{pf.campaign_id}?amounts=7,14&color=%23123456&lang=en")
    assert r.status_code == 200
    csp = r.headers["content-security-policy"]
    assert "frame-ancestors *" in csp and "script-src 'self'" in csp
    assert "x-frame-options" not in r.headers
    assert "<script>" not in r.text  # nothing inline runs; config is a JSON data block
    assert 'value="700"' in r.text and 'value="1400"' in r.text
    assert 'data-color="#123456"' in r.text
    assert "Give" in r.text
    for bad in ("not-a-uuid", "00000000-0000-0000-0000-000000000000"):
        missing = await pf.app.get(f"/embed/{bad}")
        assert missing.status_code == 404
        assert "Campagne introuvable" in missing.text
    odd = await pf.app.get(f"/embed/{pf.campaign_id}?color=red;x&amounts=1e9")
    assert "data-color" not in odd.text
    assert 'value="5000"' in odd.text  # the campaign's own suggestions


async def test_hashed_assets(pf: Platform) -> None:
    embed = await pf.app.get(f"/embed/{pf.campaign_id}")
    campaign_page = (await pf.app.get(f"/c/{pf.org}/{pf.seeded['campaigns'][0]['slug']}")).text
    paths = re.findall(r'"(/widget/v1/[0-9a-f]{12}/embed\.js)"', embed.text)
    paths += re.findall(r'"(/widget/v1/[0-9a-f]{12}/donate\.css)"', campaign_page)
    assert len(paths) == 2
    for path in paths:
        r = await pf.app.get(path, headers={"Accept-Encoding": "gzip"})
        assert r.status_code == 200, path
        assert r.headers["content-encoding"] == "gzip"
        assert "immutable" in r.headers["cache-control"]
    assert (await pf.app.get("/widget/v1/000000000000/embed.js")).status_code == 404
    # The iframe inlines the stylesheet (one response before its first paint); its CSP allows
    # exactly that text, by hash, and no other inline style.
    inline = re.search(r"<style>(.*?)</style>", embed.text, re.S)
    assert inline is not None
    css = (await pf.app.get(paths[1])).text
    assert inline.group(1) == css
    digest = base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
    assert f"style-src 'self' 'sha256-{digest}'" in embed.headers["content-security-policy"]
