"""Payment provider adapters: one protocol (``base.PaymentProvider``), one module per provider.

Adapters know the providers' SDKs and wire formats, never SQL. They return our own
dataclasses (``base``) with a normalised status and ``Money``, never SDK objects.
"""
