"""Which report, in which format: the parameters of the payout reports checked once, for the
streaming routes (query strings) and the worker's exports (a JSON body) alike.

Every ``parse_*`` reads a mapping of strings (a query string, or the ``params`` of an export
request) and raises ``InvalidRequest`` with field → message.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Literal, cast
from uuid import UUID

from donate.services.errors import InvalidRequest

MAX_DAYS = 3 * 366  # a FEC or period report spans at most a few fiscal years
CSV_SEPARATORS = {",": ",", ";": ";", "semicolon": ";", "tab": "\t", "\t": "\t"}
FEC_SEPARATORS = {"tab": "\t", "\t": "\t", "|": "|", "pipe": "|"}
Kind = Literal["payout", "period", "in_transit", "fec"]
KINDS: tuple[Kind, ...] = ("payout", "period", "in_transit", "fec")
# The FEC is a text file of its own kind; the other reports come in three formats.
FORMATS: dict[Kind, tuple[str, ...]] = {
    "payout": ("csv", "xlsx", "pdf"),
    "period": ("csv", "xlsx", "pdf"),
    "in_transit": ("csv", "xlsx", "pdf"),
    "fec": ("txt",),
}
# The report's title key (``reports.table.text``) of each kind.
TITLES: dict[Kind, str] = {
    "payout": "report",
    "period": "period_report",
    "in_transit": "in_transit",
    "fec": "fec",
}

Params = Mapping[str, str]


def _invalid(field: str, message: str) -> InvalidRequest:
    # "Invalid request" as detail: the problem document the routes always answered.
    return InvalidRequest({field: message}, "Invalid request")


def parse_day(params: Params, field: str, *, required: bool) -> date | None:
    value = params.get(field)
    if value is None or value == "":
        if required:
            raise _invalid(field, "required, YYYY-MM-DD")
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise _invalid(field, "use YYYY-MM-DD") from None


def parse_range(params: Params, *, required: bool) -> tuple[date | None, date | None]:
    start = parse_day(params, "from", required=required)
    end = parse_day(params, "to", required=required)
    if start and end:
        if start > end:
            raise _invalid("to", "must not be before from")
        if (end - start).days > MAX_DAYS:
            raise _invalid("to", f"at most {MAX_DAYS} days after from")
    return start, end


def parse_period(params: Params) -> tuple[date, date]:
    """``month=YYYY-MM`` or ``year=YYYY`` (the back-office's buttons), else ``from``/``to``."""
    month, year = params.get("month"), params.get("year")
    try:
        if month:
            first = date.fromisoformat(f"{month}-01")
            after = date(first.year + first.month // 12, first.month % 12 + 1, 1)
            return first, after - timedelta(days=1)
        if year:
            if not (year.isdigit() and len(year) == 4):
                raise ValueError(year)
            return date(int(year), 1, 1), date(int(year), 12, 31)
    except ValueError:
        field = "month" if month else "year"
        raise _invalid(field, "use YYYY-MM" if month else "use YYYY") from None
    start, end = parse_range(params, required=True)
    assert start is not None and end is not None
    return start, end


def parse_locale(params: Params) -> str:
    return "en" if params.get("lang") == "en" else "fr"


def parse_separator(params: Params, choices: Mapping[str, str], default: str) -> str:
    raw = params.get("sep")
    if raw is None:
        return default
    if raw not in choices:
        names = ", ".join(sorted(k for k in choices if k.isprintable()))
        raise _invalid("sep", f"one of {names}")
    return choices[raw]


@dataclass(frozen=True, slots=True)
class ExportSpec:
    """A report to build in the worker: what the streaming routes would answer for the same
    parameters, byte for byte (the file name excepted, which carries the request's date)."""

    kind: Kind
    format: str
    payout_id: UUID | None = None
    start: date | None = None
    end: date | None = None
    sep: str = ","
    lang: str = "fr"

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "format": self.format,
            "payout_id": str(self.payout_id) if self.payout_id else None,
            "from": self.start.isoformat() if self.start else None,
            "to": self.end.isoformat() if self.end else None,
            "sep": self.sep,
            "lang": self.lang,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ExportSpec:
        def day(key: str) -> date | None:
            value = data.get(key)
            return date.fromisoformat(value) if value else None

        payout = data.get("payout_id")
        return cls(
            kind=cast(Kind, data["kind"]),
            format=str(data["format"]),
            payout_id=UUID(payout) if payout else None,
            start=day("from"),
            end=day("to"),
            sep=str(data.get("sep") or ","),
            lang=str(data.get("lang") or "fr"),
        )


def _strings(raw: Any) -> dict[str, str]:
    """An export request's ``params``: an object of strings (years may come as numbers)."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise InvalidRequest({"params": "an object"}, "Invalid request")
    out: dict[str, str] = {}
    for key, value in raw.items():
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise _invalid(str(key), "a string")
        out[str(key)] = str(value)
    return out


def parse_export(kind: Any, fmt: Any, raw_params: Any) -> ExportSpec:
    """The export of an API or back-office request, checked like the streaming routes check
    their query string. Raises ``InvalidRequest``."""
    if kind not in KINDS:
        raise InvalidRequest({"kind": "one of " + ", ".join(KINDS)}, "Invalid request")
    k = cast(Kind, kind)
    allowed = FORMATS[k]
    if fmt is None and len(allowed) == 1:
        fmt = allowed[0]
    if fmt not in allowed:
        raise InvalidRequest({"format": "one of " + ", ".join(allowed)}, "Invalid request")
    params = _strings(raw_params)
    lang = parse_locale(params)
    if k == "fec":
        start, end = parse_range(params, required=True)
        sep = parse_separator(params, FEC_SEPARATORS, "\t")
        return ExportSpec(k, str(fmt), start=start, end=end, sep=sep, lang=lang)
    sep = parse_separator(params, CSV_SEPARATORS, ",") if fmt == "csv" else ","
    if k == "payout":
        try:
            payout_id = UUID(params.get("payout_id", ""))
        except ValueError:
            raise _invalid("payout_id", "the id of one of your payouts") from None
        return ExportSpec(k, str(fmt), payout_id=payout_id, sep=sep, lang=lang)
    if k == "period":
        first, last = parse_period(params)
        return ExportSpec(k, str(fmt), start=first, end=last, sep=sep, lang=lang)
    start, end = parse_range(params, required=False)
    return ExportSpec(k, str(fmt), start=start, end=end, sep=sep, lang=lang)
