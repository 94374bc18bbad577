"""Fiscal receipts: numbering rules, the frozen snapshot and its pure PDF renderer.

No database and no I/O here apart from reading the bundled fonts; issuing, storing and
e-mailing receipts belongs to ``donate.services`` and ``donate.jobs``.
"""
