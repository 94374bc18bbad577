"""asyncpg only: pool, migration runner, query functions (``conn`` first, domain objects out)."""
