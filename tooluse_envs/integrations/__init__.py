"""Adapters from the text tool-use envs to other libraries' expectations, one module per library
(``integrations.sb3``: Stable-Baselines3; ``integrations.trl``: TRL).

Nothing here is imported by ``import tooluse_envs``; each adapter imports its library only when used.
"""
