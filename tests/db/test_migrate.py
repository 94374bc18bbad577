"""Migrations: ordered, recorded with a checksum, safe to run twice at once."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from donate.db.migrate import MigrationError, load_migrations, migrate
from tests.support.db import clone_database, drop_database, with_database


@pytest.fixture
async def empty_db(services: dict[str, str]) -> AsyncIterator[tuple[str, str]]:
    name = f"donate_empty_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(services["database"])
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    yield name, with_database(services["database"], name)
    await drop_database(services, name)


def _write(dir_: Path, name: str, sql: str) -> None:
    (dir_ / name).write_text(sql)


async def test_real_migrations_apply_then_nothing_to_do(empty_db: tuple[str, str]) -> None:
    conn = await asyncpg.connect(empty_db[1])
    try:
        applied = await migrate(conn)
        assert applied == [m.name for m in load_migrations()]
        assert await migrate(conn) == []
        rows = await conn.fetch("SELECT version, checksum FROM schema_migrations ORDER BY version")
        assert [r["checksum"] for r in rows] == [m.checksum for m in load_migrations()]
    finally:
        await conn.close()


async def test_two_runners_at_once_apply_once(empty_db: tuple[str, str], tmp_path: Path) -> None:
    # A slow migration makes the overlap certain: the second runner must wait on the lock.
    _write(tmp_path, "0001_slow.sql", "SELECT pg_sleep(0.5); CREATE TABLE t (id int PRIMARY KEY);")
    _write(tmp_path, "0002_more.sql", "INSERT INTO t VALUES (1);")
    a = await asyncpg.connect(empty_db[1])
    b = await asyncpg.connect(empty_db[1])
    try:
        first, second = await asyncio.gather(migrate(a, tmp_path), migrate(b, tmp_path))
        assert sorted([first, second], key=len) == [[], ["0001_slow.sql", "0002_more.sql"]]
        assert await a.fetchval("SELECT count(*) FROM t") == 1
    finally:
        await a.close()
        await b.close()


async def test_changed_applied_file_is_an_error(empty_db: tuple[str, str], tmp_path: Path) -> None:
    _write(tmp_path, "0001_a.sql", "CREATE TABLE a (id int);")
    conn = await asyncpg.connect(empty_db[1])
    try:
        await migrate(conn, tmp_path)
        _write(tmp_path, "0001_a.sql", "CREATE TABLE a (id bigint);")
        with pytest.raises(MigrationError, match="changed after it was applied"):
            await migrate(conn, tmp_path)
    finally:
        await conn.close()


async def test_failed_migration_leaves_nothing_half_applied(
    empty_db: tuple[str, str], tmp_path: Path
) -> None:
    _write(tmp_path, "0001_ok.sql", "CREATE TABLE ok (id int);")
    _write(tmp_path, "0002_bad.sql", "CREATE TABLE half (id int); SELECT no_such_function();")
    conn = await asyncpg.connect(empty_db[1])
    try:
        with pytest.raises(asyncpg.UndefinedFunctionError):
            await migrate(conn, tmp_path)
        assert await conn.fetchval("SELECT max(version) FROM schema_migrations") == 1
        assert await conn.fetchval("SELECT to_regclass('half')") is None
    finally:
        await conn.close()


def test_gaps_and_bad_names_are_refused(tmp_path: Path) -> None:
    _write(tmp_path, "0001_a.sql", "")
    _write(tmp_path, "0003_c.sql", "")
    with pytest.raises(MigrationError, match="0002"):
        load_migrations(tmp_path)
    bad = tmp_path / "bad"
    bad.mkdir()
    _write(bad, "1_x.sql", "")
    with pytest.raises(MigrationError, match="badly named"):
        load_migrations(bad)


async def test_template_clone_has_schema(services: dict[str, str], template_db: str) -> None:
    name, url = await clone_database(services, template_db)
    conn = await asyncpg.connect(url)
    try:
        assert await conn.fetchval("SELECT to_regclass('donations')") is not None
    finally:
        await conn.close()
        await drop_database(services, name)
