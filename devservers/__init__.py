"""Local servers for development: one launcher each, shared by the tests (through the fixtures in
``tests/plugins/``), ``make demo`` and the benchmarks. Part of the repository, not of the wheel.

* :mod:`devservers.processes`: free loopback ports, readiness polling, starting and stopping.
* :mod:`devservers.openbao`: ``bao server -dev`` (plain, ``-dev-tls``, with a file audit device).
* :mod:`devservers.raft`: a 3-node OpenBao cluster on integrated storage, for failover.
* :mod:`devservers.moto`: moto in server mode, counting requests and injecting faults.
* :mod:`devservers.site`: the example Django site under gunicorn, and a browser for it.
* :mod:`devservers.fleet`: the fleet scenario (many workers and users during rotations).
"""
