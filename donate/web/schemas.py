"""Request bodies of the JSON API (pydantic, strict: "10.5" or 10.5 is not an amount)."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StringConstraints

Name = Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)]
Email = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"),
]


class DonorBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Email
    first_name: Name = ""
    last_name: Name = ""
    company_name: Name | None = None
    legal_form: Name | None = None
    siren: Annotated[str, StringConstraints(pattern=r"^[0-9]{9}$")] | None = None
    address_line1: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] = ""
    address_line2: (
        Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None
    ) = None
    postal_code: Annotated[str, StringConstraints(strip_whitespace=True, max_length=20)] = ""
    city: Name = ""
    country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")] = "FR"


class CheckoutBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    campaign_id: UUID
    amount_minor: Annotated[StrictInt, Field(gt=0, le=100_000_000_00)]
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
    frequency: Literal["once", "monthly", "yearly"] = "once"
    provider: Literal["stripe", "mollie"] | None = None
    donor: DonorBody
    wants_receipt: StrictBool = False
    anonymous: StrictBool = False
    hide_amount: StrictBool = False
    tip_minor: Annotated[StrictInt, Field(ge=0, le=100_000_00)] = 0
    cover_fees: StrictBool = False
    tier_id: UUID | None = None
    message: Annotated[str, StringConstraints(max_length=1000)] | None = None
    locale: Literal["fr", "en", "nl", "de"] = "fr"
    method: Literal["card", "sepa_debit", "ideal", "bancontact"] | None = None


class RefundBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount_minor: Annotated[StrictInt, Field(gt=0)] | None = None
