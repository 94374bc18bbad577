"""What every scenario shares: the plan written by ``run_load.py`` and a request budget.

The runner starts Locust with ``PYTHONPATH=load_tests`` and two variables:
``DONATE_LOAD_PLAN`` (a JSON file: ids, keys and secrets of the seeded platform) and
``DONATE_LOAD_MAX_REQUESTS`` (this process's share of the run's request cap). A run is bounded
by Locust's ``--run-time`` and by that cap, whichever comes first.
"""

from __future__ import annotations

import json
import os
from functools import cache
from typing import Any

from locust import FastHttpUser, constant
from locust.exception import StopUser


@cache
def plan() -> dict[str, Any]:
    path = os.environ.get("DONATE_LOAD_PLAN")
    return json.loads(open(path).read()) if path else {}


class Budget:
    """Requests this process may still send; users stop once it is spent."""

    def __init__(self, total: int) -> None:
        self.left = total

    def take(self) -> None:
        if self.left <= 0:
            raise StopUser()
        self.left -= 1


BUDGET = Budget(int(os.environ.get("DONATE_LOAD_MAX_REQUESTS", "1000000")))


class LoadUser(FastHttpUser):
    """Closed loop, as fast as the server answers (no think time): a throughput test."""

    abstract = True
    wait_time = constant(0)
    connection_timeout = 10.0
    network_timeout = 30.0
