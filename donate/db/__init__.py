"""asyncpg only: pool, migration runner, and query functions (``conn`` first, domain objects out)."""
