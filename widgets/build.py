"""Build the widget: ``python widgets/build.py`` writes the served files from ``widgets/src``.

No npm toolchain: the sources are plain ES2017 and CSS, and "minifying" is dropping comment
lines and indentation (safe for this code, which never continues a statement on a line that
starts with a comment). The output is committed under ``donate/web/static/widget`` so the
package works as installed; a test fails when it is out of date.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
SRC = ROOT / "src"
OUT = ROOT.parent / "donate" / "web" / "static" / "widget"


_STRING = re.compile(r"""("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')""")
_PUNCT = re.compile(r"\s*([{}()\[\];,=:+<>&|?!*/-])\s*")


def _squeeze(line: str) -> str:
    # Spaces around punctuation go, never inside string literals (the sources keep regular
    # expression literals free of spaces, so they are untouched too).
    parts = _STRING.split(line)
    return "".join(p if i % 2 else _PUNCT.sub(r"\1", p) for i, p in enumerate(parts))


def _strip(text: str, comment: str, squeeze: bool = False) -> str:
    lines = (line.strip() for line in text.splitlines())
    kept = (line for line in lines if line and not line.startswith(comment))
    return "\n".join(_squeeze(line) if squeeze else line for line in kept) + "\n"


def build() -> dict[str, str]:
    """File name → content of every served file."""
    css = _strip((SRC / "donate.css").read_text(), "/*")
    # The progress bar's width as classes: strict CSP pages allow no inline style attribute.
    css += "".join(f".w{p}{{width:{p}%}}" for p in range(101)) + "\n"
    return {
        "widget.js": _strip((SRC / "loader.js").read_text(), "//", squeeze=True),
        "embed.js": _strip((SRC / "embed.js").read_text(), "//", squeeze=True),
        "donate.css": css,
    }


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, content in build().items():
        (OUT / name).write_text(content)
        print(f"wrote {OUT / name} ({len(content.encode())} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
