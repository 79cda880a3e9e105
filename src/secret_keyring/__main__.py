"""``python -m secret_keyring`` is the ``secret-keyring`` command."""

from secret_keyring.cli import main

raise SystemExit(main())
