"""``python -m mentor_agents.cli``: the ``mentor`` command (how ``mentor bench --workers`` starts its workers)."""

from mentor_agents.cli import main

raise SystemExit(main())
