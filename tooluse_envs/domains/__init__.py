"""One module per domain: its tools, task generator and outcome checker (listed in ``tooluse_envs.registry``)."""
