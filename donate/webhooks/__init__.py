"""Provider webhooks: ingest (verify, store raw, ack) and process (re-fetch, apply)."""
