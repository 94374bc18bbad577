"""Local emulator of the Stripe and Mollie HTTP APIs (the subset the platform uses).

Demo and tests only, never production. Entry point: ``donate.sandbox.app``.
"""
