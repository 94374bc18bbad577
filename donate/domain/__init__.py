"""Pure domain: no I/O, standard library only.

Error tree (``donate.domain.errors``)::

    DomainError
    ├── CurrencyMismatch          two amounts of different currencies were combined
    ├── InvalidAmount             an amount that cannot exist (unknown currency, bad text)
    └── InvalidTransition         a status change the donation state machine forbids
"""
