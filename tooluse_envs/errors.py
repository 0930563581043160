"""The package's exceptions, in one small tree.

Malformed *actions* never raise (the env answers them with an observation); these are for misuse of
the API and broken data.
"""


class ToolUseError(Exception):
    """Base of every error raised by tooluse_envs."""


class TaskError(ToolUseError):
    """Task data is missing or does not match tasks/task.schema.json."""


class ToolDefinitionError(ToolUseError):
    """A tool was declared with an invalid name or JSON Schema."""


class ConfigError(ToolUseError, ValueError):
    """An environment argument has an unknown or invalid value."""


class ResetNeeded(ToolUseError, RuntimeError):
    """step() was called before reset() or after the episode ended."""
