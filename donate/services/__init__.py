"""Use cases. The only place a database transaction starts; state changes write outbox rows."""
