"""Pieces shared by the Stripe adapter's modules: the HTTP client, error mapping, options."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import stripe

from donate.providers.base import (
    ConnectedAccount,
    ProviderError,
    ProviderNotFound,
    ProviderRejected,
    ProviderUnavailable,
)

if TYPE_CHECKING:
    from stripe._request_options import RequestOptions

JSON = dict[str, Any]
_IDEMPOTENCY_KEY_MAX = 255


class QuietHTTPXClient(stripe.HTTPXClient):
    """stripe-python hands httpx the form body as ``data=<str>``, which httpx 0.28 deprecates
    (a DeprecationWarning on every POST); pass it as ``content=`` instead."""

    def _get_request_args_kwargs(
        self, method: str, url: str, headers: Mapping[str, str], post_data: Any
    ) -> list[Any]:
        args, kwargs = super()._get_request_args_kwargs(method, url, headers, post_data)
        data = kwargs.pop("data", None)
        if isinstance(data, str | bytes) and data:
            kwargs["content"] = data
        elif data:
            kwargs["data"] = data
        return [args, kwargs]


def map_error(exc: stripe.StripeError) -> ProviderError:
    """SDK exception → our tree: retryable, not found, or rejected."""
    status = exc.http_status
    message = f"stripe: {exc.user_message or exc}"
    if isinstance(exc, stripe.APIConnectionError | stripe.RateLimitError):
        return ProviderUnavailable(message)
    # 409: a concurrent request with the same idempotency key or a lock timeout: retry later.
    if status is None or status >= 500 or status in (409, 429):
        return ProviderUnavailable(message)
    if status == 404:
        return ProviderNotFound(message)
    return ProviderRejected(message)


@contextmanager
def stripe_errors() -> Iterator[None]:
    try:
        yield
    except stripe.StripeError as exc:
        raise map_error(exc) from exc
    except (KeyError, TypeError, ValueError) as exc:
        # A response we cannot read: neither the request's fault nor clearly transient.
        raise ProviderError(f"stripe: unexpected response shape: {exc!r}") from exc


def plain(obj: Any) -> JSON:
    """SDK object → plain dict (recursively), so nothing of the SDK escapes this module."""
    data: JSON = obj.to_dict()
    return data


def idempotency_key(key: str) -> str | None:
    if not key:
        return None
    if len(key) <= _IDEMPOTENCY_KEY_MAX:
        return key
    # Still deterministic, just short enough for Stripe.
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def request_options(account: ConnectedAccount | None, key: str = "") -> RequestOptions:
    options: RequestOptions = {}
    if account is not None and account.account_id:
        options["stripe_account"] = account.account_id
    short = idempotency_key(key)
    if short:
        options["idempotency_key"] = short
    return options


def id_of(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        found = value.get("id")
        return found if isinstance(found, str) else None
    return None
