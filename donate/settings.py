"""All configuration, read once by the entry points (``donate.cli``) and passed down.

Environment variables are prefixed ``DONATE_``; a ``.env`` file is read in development.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

STRIPE_API_DEFAULT = "https://api.stripe.com"
MOLLIE_API_DEFAULT = "https://api.mollie.com"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="DONATE_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    environment: Literal["production", "staging", "development", "demo", "test"] = "production"
    database_url: str | None = None  # postgresql://…; None = embedded (demo/dev only)
    redis_url: str | None = None  # redis://…; None = embedded (demo/dev only)
    # Or Redis through Sentinel (infra/RUNBOOK.md, "Settings"), instead of redis_url: the
    # sentinels' host:port list (comma-separated in the env), the name they know the master
    # by, and the master's database and password (a URL would name one server).
    redis_sentinels: Annotated[tuple[tuple[str, int], ...], NoDecode] = ()
    redis_sentinel_master: str = Field(default="mymaster", min_length=1)
    redis_sentinel_password: SecretStr | None = None  # the sentinels' own requirepass
    redis_db: int | None = Field(default=None, ge=0)  # Sentinel only; default 0
    redis_password: SecretStr | None = None  # Sentinel only: the master's password
    public_url: str = "http://127.0.0.1:8000"
    secret_key: SecretStr | None = None  # signs sessions and links; derives nothing else
    # Fernet key (urlsafe base64, 32 bytes) encrypting provider credentials at rest.
    encryption_key: SecretStr | None = None

    stripe_secret_key: SecretStr | None = None  # the platform's key (Connect)
    stripe_api_base: str = STRIPE_API_DEFAULT
    stripe_webhook_secret: SecretStr | None = None  # whsec_… of the Connect endpoint
    stripe_webhook_tolerance_s: int = 300
    mollie_api_base: str = MOLLIE_API_DEFAULT
    mollie_client_id: str | None = None
    mollie_client_secret: SecretStr | None = None

    # The platform's cut, in basis points of the gift (0 = the platform takes nothing but tips).
    platform_fee_bps: int = Field(default=0, ge=0, le=2000)
    checkout_expiry_minutes: int = Field(default=60, ge=30, le=1440)

    smtp_url: str | None = None  # smtp://user:pass@host:port
    mail_from: str = "Donate <no-reply@donate.localhost>"
    sentry_dsn: str | None = None
    sentry_traces_sample_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    sentry_profiles_sample_rate: float = Field(default=0.0, ge=0.0, le=1.0)  # of traced ones
    release: str | None = None  # Sentry's release; None = "donate@<package version>"
    # GET /metrics (docs/metrics.md) asks for "Authorization: Bearer <token>" when set;
    # without one, expose it on the internal network only.
    metrics_token: SecretStr | None = None
    # The worker serves its metrics on this port when set (unauthenticated: cluster only).
    worker_metrics_port: int | None = Field(default=None, ge=1, le=65535)
    worker_metrics_host: str = "0.0.0.0"  # noqa: S104 (the pod's address, scraped in-cluster)
    log_level: str = "INFO"
    log_json: bool = True

    db_pool_min: int = Field(default=2, ge=1)
    db_pool_max: int = Field(default=10, ge=1)
    outbox_stale_after_s: int = Field(default=120, ge=5)
    outbox_max_attempts: int = Field(default=8, ge=1)

    # Integrator webhooks (docs/webhooks.md): per-attempt timeout, and retries with
    # exponential backoff (base × 2^n, capped, ±20 % jitter) for a window of 3 days.
    integrator_webhook_timeout_s: float = Field(default=10.0, gt=0, le=60)
    integrator_webhook_retry_base_s: float = Field(default=30.0, ge=0)
    integrator_webhook_retry_max_delay_s: float = Field(default=6 * 3600.0, ge=0)
    integrator_webhook_retry_window_s: float = Field(default=3 * 86400.0, ge=0)

    # Report exports built by the worker (a year as XLSX takes minutes): kept this many days
    # for download, and one run may last this long before arq stops it.
    report_export_retention_days: int = Field(default=7, ge=1, le=90)
    report_export_timeout_s: int = Field(default=3600, ge=60)

    sandbox_enabled: bool = False  # the provider sandbox; refused in production

    # Proxies whose X-Forwarded-For is believed (CIDR list, comma-separated in the env); the
    # client is the right-most address that is not one of them.
    trusted_proxies: Annotated[tuple[str, ...], NoDecode] = ("127.0.0.0/8", "::1/128")
    # Checkout limits and card-testing defence (services.checkout_guard), in Redis; Redis
    # down = no limits (logged), never a refused gift.
    checkout_rate_limits: bool = True
    checkout_limit_per_ip: int = Field(default=20, ge=1)  # checkouts per IP per minute
    checkout_limit_per_campaign: int = Field(default=600, ge=1)  # per campaign per minute
    # A failed payment of at most this gift (minor units) looks like a stolen card being tried.
    card_testing_small_amount_minor: int = Field(default=500, ge=0)
    card_testing_window_s: int = Field(default=900, ge=60, le=86400)
    card_testing_max_failures_per_ip: int = Field(default=3, ge=1)
    card_testing_max_failures_per_campaign: int = Field(default=25, ge=1)
    card_testing_cooldown_s: int = Field(default=3600, ge=60, le=7 * 86400)

    @field_validator("database_url")
    @classmethod
    def _postgres_url(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("postgres://", "postgresql://")):
            raise ValueError("must start with postgresql://")
        return v

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _proxy_list(cls, v: object) -> object:
        if isinstance(v, str):
            return tuple(part.strip() for part in v.split(",") if part.strip())
        return v

    @field_validator("trusted_proxies")
    @classmethod
    def _proxy_networks(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for network in v:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError:
                raise ValueError(f"{network!r} is not an IP address or CIDR network") from None
        return v

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return v

    @field_validator("redis_sentinels", mode="before")
    @classmethod
    def _sentinel_list(cls, v: object) -> object:
        if isinstance(v, str):
            v = [part.strip() for part in v.split(",") if part.strip()]
        if isinstance(v, list | tuple):
            return tuple(_host_port(item) if isinstance(item, str) else item for item in v)
        return v

    @model_validator(mode="after")
    def _one_way_to_redis(self) -> Settings:
        if self.redis_sentinels and self.redis_url is not None:
            raise ValueError(
                "DONATE_REDIS_URL and DONATE_REDIS_SENTINELS exclude each other: set one"
            )
        if not self.redis_sentinels:
            for name in ("redis_db", "redis_password", "redis_sentinel_password"):
                if getattr(self, name) is not None:
                    raise ValueError(
                        f"DONATE_{name.upper()} is only read with DONATE_REDIS_SENTINELS"
                        " (with DONATE_REDIS_URL, put it in the URL)"
                    )
        return self

    @model_validator(mode="after")
    def _production_rules(self) -> Settings:
        if self.environment == "production":
            if self.sandbox_enabled:
                raise ValueError("DONATE_SANDBOX_ENABLED cannot be true in production")
            for name in ("database_url", "redis_url", "secret_key", "encryption_key"):
                if name == "redis_url" and self.redis_sentinels:
                    continue
                if getattr(self, name) is None:
                    raise ValueError(f"DONATE_{name.upper()} is required in production")
        return self

    @property
    def redis_configured(self) -> bool:
        """A Redis to use: one URL, or sentinels to ask for the master."""
        return self.redis_url is not None or bool(self.redis_sentinels)

    @property
    def is_production(self) -> bool:
        return self.environment == "production"


def _host_port(text: str) -> tuple[str, int]:
    """``host:port`` (``[v6]:port`` for an IPv6 address) with a clear error."""
    host, sep, port = text.rpartition(":")
    bracketed = host.startswith("[") and host.endswith("]")
    host = host[1:-1] if bracketed else host
    if not sep or not host or (":" in host and not bracketed) or " " in host:
        raise ValueError(f"{text!r} is not host:port (an IPv6 address goes in [brackets])")
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError(f"{text!r}: the port must be a number from 1 to 65535")
    return host, int(port)
