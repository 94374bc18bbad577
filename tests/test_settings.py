"""Bad settings stop the commands with one clear line naming the variable."""

from __future__ import annotations

import pytest

from donate.settings import Settings
from tests.support.cli import run_cli


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"DONATE_DATABASE_URL": "mysql://x"}, "DONATE_DATABASE_URL"),
        ({"DONATE_REDIS_URL": "http://x"}, "DONATE_REDIS_URL"),
        ({"DONATE_ENVIRONMENT": "prod"}, "DONATE_ENVIRONMENT"),
        ({"DONATE_PLATFORM_FEE_BPS": "abc"}, "DONATE_PLATFORM_FEE_BPS"),
        (
            {"DONATE_DATABASE_URL": "postgresql://x/y", "DONATE_REDIS_URL": "redis://x"},
            "DONATE_SECRET_KEY",
        ),
    ],
)
def test_serve_refuses_bad_settings_in_one_line(env: dict[str, str], variable: str) -> None:
    result = run_cli("serve", **env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert variable in lines[0]
    assert "Traceback" not in result.stderr


def test_production_cannot_enable_the_sandbox() -> None:
    with pytest.raises(ValueError, match="SANDBOX"):
        Settings(
            _env_file=None,  # type: ignore[call-arg]
            environment="production",
            database_url="postgresql://x/y",
            redis_url="redis://x",
            secret_key="s",
            encryption_key="k",
            sandbox_enabled=True,
        )


def test_migrate_without_database_names_the_variable() -> None:
    result = run_cli("migrate", DONATE_ENVIRONMENT="development")
    assert result.returncode == 2
    assert result.stderr.strip() == "donate: DONATE_DATABASE_URL is not set"
