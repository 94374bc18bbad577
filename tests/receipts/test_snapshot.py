from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from donate.domain.money import Money
from donate.receipts.snapshot import (
    Address,
    InvalidReceipt,
    Payment,
    Period,
    ReceiptIncomplete,
    ReceiptSnapshot,
    payment_mode_label,
)

from .factories import (
    BENEFICIARY,
    COMPANY,
    INDIVIDUAL,
    SIGNATORY,
    annual,
    company,
    eur,
    single,
    tiny_png,
)


def test_valid_snapshots_build() -> None:
    assert single().number == "2026-000123"
    assert company().is_company
    assert annual().kind == "annual"


@pytest.mark.parametrize(
    ("overrides", "missing"),
    [
        ({"number": " "}, "number"),
        ({"beneficiary": replace(BENEFICIARY, legal_name="")}, "beneficiary.legal_name"),
        ({"beneficiary": replace(BENEFICIARY, object="")}, "beneficiary.object"),
        ({"beneficiary": replace(BENEFICIARY, qualification="")}, "beneficiary.qualification"),
        ({"beneficiary": replace(BENEFICIARY, siren=None, rna="")}, "beneficiary.siren_or_rna"),
        (
            {"beneficiary": replace(BENEFICIARY, address=Address((), "75005", "Paris"))},
            "beneficiary.address.lines",
        ),
        (
            {"beneficiary": replace(BENEFICIARY, address=Address(("1 rue",), "", "Paris"))},
            "beneficiary.address.postal_code",
        ),
        ({"donor": replace(INDIVIDUAL, last_name="")}, "donor.last_name"),
        ({"donor": replace(INDIVIDUAL, first_name="")}, "donor.first_name"),
        (
            {"donor": replace(INDIVIDUAL, address=Address(("1 rue",), "69003", ""))},
            "donor.address.city",
        ),
        ({"articles": ()}, "articles"),
        ({"payments": ()}, "payments"),
        ({"gift_form": ""}, "gift_form"),
        ({"nature": ""}, "nature"),
        ({"payment_modes": ()}, "payment_modes"),
        ({"place_of_issue": ""}, "place_of_issue"),
        ({"signatory": replace(SIGNATORY, name="")}, "signatory.name"),
        ({"signatory": replace(SIGNATORY, role=" ")}, "signatory.role"),
    ],
)
def test_missing_mention_is_named(overrides: dict[str, Any], missing: str) -> None:
    with pytest.raises(ReceiptIncomplete, match=missing.replace(".", r"\.")) as info:
        single(**overrides)
    assert info.value.missing == (missing,)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    ("field", "missing"),
    [
        ("company_name", "donor.company_name"),
        ("legal_form", "donor.legal_form"),
        ("siren", "donor.siren"),
    ],
)
def test_company_mentions(field: str, missing: str) -> None:
    with pytest.raises(ReceiptIncomplete) as info:
        company(donor=replace(COMPANY, **{field: ""}))  # type: ignore[arg-type]
    assert info.value.missing == (missing,)


def test_every_missing_mention_is_listed_at_once() -> None:
    with pytest.raises(ReceiptIncomplete) as info:
        single(place_of_issue="", signatory=replace(SIGNATORY, name="", role=""))
    assert info.value.missing == ("place_of_issue", "signatory.name", "signatory.role")


def test_annual_needs_a_period() -> None:
    with pytest.raises(ReceiptIncomplete) as info:
        annual(period=None)
    assert info.value.missing == ("period",)


def test_foreign_donor_may_have_no_postcode() -> None:
    donor = replace(INDIVIDUAL, address=Address(("1 Main Street",), "", "Dublin", "Irlande"))
    assert single(donor=donor).donor == donor


def test_payment_mode_not_required_for_gifts_in_kind() -> None:
    assert single(nature="Autres", payment_modes=()).payment_modes == ()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"amount": eur(0), "payments": (Payment(date(2026, 1, 15), eur(0)),)}, "positive"),
        ({"amount": eur(-5), "payments": (Payment(date(2026, 1, 15), eur(-5)),)}, "positive"),
        (
            {
                "amount": Money(12000, "USD"),
                "payments": (Payment(date(2026, 1, 15), Money(12000, "USD")),),
            },
            "EUR only",
        ),
        ({"amount": eur(12001)}, "add up"),
        ({"number": "2026-123"}, "receipt number"),
        ({"replaces": "2026-000123"}, "replace itself"),
        ({"replaces": "bogus"}, "receipt number"),
        ({"form": "11580", "articles": ("238 bis",)}, "do not fit"),
        ({"articles": ("200", "200")}, "do not fit"),
        ({"form": "16216", "articles": ("238 bis",)}, "companies use form 16216"),
        ({"form": "2041"}, "unknown cerfa"),
        ({"kind": "monthly"}, "unknown receipt kind"),
        ({"beneficiary": replace(BENEFICIARY, siren="12345678")}, "SIREN"),
        ({"beneficiary": replace(BENEFICIARY, rna="12345")}, "RNA"),
        ({"issued_on": date(2026, 1, 14)}, "issued before"),
        ({"signatory": replace(SIGNATORY, signature_png=b"GIF89a")}, "PNG"),
        ({"payment_modes": ("PayPal",)}, "unknown payment mode"),
        (
            {
                "amount": eur(24000),
                "payments": (Payment(date(2026, 1, 15), eur(12000)),) * 2,
            },
            "exactly one payment",
        ),
    ],
)
def test_unlawful_receipts_are_refused(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidReceipt, match=message):
        single(**overrides)


def test_company_donor_needs_form_16216() -> None:
    with pytest.raises(InvalidReceipt, match="companies use form 16216"):
        single(donor=COMPANY)
    with pytest.raises(InvalidReceipt, match="SIREN"):
        company(donor=replace(COMPANY, siren="ABC"))


def test_annual_payments_stay_within_the_period() -> None:
    with pytest.raises(InvalidReceipt, match="outside the period"):
        annual(period=Period(date(2025, 2, 1), date(2025, 12, 31)))
    with pytest.raises(InvalidReceipt, match="starts after"):
        annual(period=Period(date(2025, 12, 31), date(2025, 1, 1)))


@pytest.mark.parametrize(
    ("method", "label"),
    [
        ("card", "Carte bancaire"),
        ("sepa_debit", "Prélèvement"),
        ("ideal", "Virement"),
        ("bancontact", "Carte bancaire"),
        ("transfer", "Virement"),
    ],
)
def test_payment_mode_label(method: str, label: str) -> None:
    assert payment_mode_label(method) == label


def test_unknown_payment_method() -> None:
    with pytest.raises(ValueError, match="paypal"):
        payment_mode_label("paypal")


@pytest.mark.parametrize(
    "snapshot",
    [
        single(),
        company(),
        annual(replaces="2026-000001"),
        single(signatory=replace(SIGNATORY, signature_png=tiny_png())),
    ],
)
def test_json_round_trip(snapshot: ReceiptSnapshot) -> None:
    data = snapshot.to_json()
    assert json.loads(json.dumps(data)) == data  # plain JSON types only
    assert ReceiptSnapshot.from_json(json.loads(json.dumps(data))) == snapshot
    assert data["schema_version"] == 1


def test_signature_is_base64_in_json() -> None:
    png = tiny_png()
    data = single(signatory=replace(SIGNATORY, signature_png=png)).to_json()
    assert data["signatory"]["signature_png"].startswith("iVBORw0KGgo")


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d.pop("number"),
        lambda d: d.update(schema_version=99),
        lambda d: d.update(issued_on="16/01/2026"),
        lambda d: d["donor"].update(type="robot"),
        lambda d: d["amount"].update(minor="120"),
        lambda d: d["signatory"].update(signature_png="***"),
        lambda d: d["beneficiary"]["address"].update(lines="12 rue"),
    ],
)
def test_from_json_rejects_malformed(mutate: Any) -> None:
    data = single().to_json()
    mutate(data)
    with pytest.raises(InvalidReceipt):
        ReceiptSnapshot.from_json(data)


_text = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=40
).filter(str.strip)


@st.composite
def snapshots(draw: st.DrawFn) -> ReceiptSnapshot:
    cents = draw(st.lists(st.integers(1, 10**9), min_size=1, max_size=14))
    start = date(2025, 1, 1)
    days = sorted(draw(st.lists(st.integers(0, 364), min_size=len(cents), max_size=len(cents))))
    payments = tuple(
        Payment(start + timedelta(d), eur(c)) for d, c in zip(days, cents, strict=True)
    )
    is_company = draw(st.booleans())
    base = company() if is_company else single()
    address = Address(
        tuple(draw(st.lists(_text, min_size=1, max_size=3))), draw(_text), draw(_text)
    )
    donor = (
        replace(COMPANY, company_name=draw(_text), legal_form=draw(_text), address=address)
        if is_company
        else replace(INDIVIDUAL, last_name=draw(_text), first_name=draw(_text), address=address)
    )
    return replace(
        base,
        kind="annual" if len(payments) > 1 or draw(st.booleans()) else "single",
        period=Period(start, date(2025, 12, 31)),
        payments=payments,
        amount=eur(sum(cents)),
        donor=donor,
        beneficiary=replace(
            BENEFICIARY, object=draw(_text), rna=draw(st.none() | st.just("W2B1234567"))
        ),
        issued_on=date(2026, 1, draw(st.integers(1, 31))),
        place_of_issue=draw(_text),
        signatory=replace(SIGNATORY, signature_png=draw(st.none() | st.just(tiny_png()))),
        gift_form=draw(st.sampled_from(["Déclaration de don manuel", "Acte authentique", "Legs"])),
        replaces=draw(st.none() | st.just("2025-000042")),
    )


@settings(max_examples=60, deadline=None)
@given(snapshots())
def test_json_round_trip_property(snapshot: ReceiptSnapshot) -> None:
    data = json.loads(json.dumps(snapshot.to_json()))
    assert ReceiptSnapshot.from_json(data) == snapshot
