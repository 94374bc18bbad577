"""Small cryptographic helpers shared by the layers above (secrets at rest, API keys)."""
