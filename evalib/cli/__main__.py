"""``python -m evalib.cli``: the ``evalib`` command."""

from evalib.cli import main

raise SystemExit(main())
