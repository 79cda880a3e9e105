"""Gunicorn settings for the fleet runs: start the workers a fraction of the TTL apart.

Workers that boot together fetch together and, with only 10% jitter, keep refreshing nearly in
lockstep, which hides the stale-cache window a real fleet has: its processes start at different
moments (rolling deploys, autoscaling, ``max_requests`` restarts), so their refresh phases are
spread over the whole TTL. Without ``--preload`` each worker loads the settings, and so fetches
its first keyring, after ``post_fork``; holding worker *i* back by ``i * FLEET_STAGGER_SECONDS``
spreads the phases evenly. This is staging, not waiting for a condition.
"""

from __future__ import annotations

import os
import time
from typing import Any

_STEP = float(os.environ.get("FLEET_STAGGER_SECONDS", "0"))


def post_fork(server: Any, worker: Any) -> None:
    index = (int(worker.age) - 1) % max(1, int(server.num_workers))
    time.sleep(index * _STEP)
