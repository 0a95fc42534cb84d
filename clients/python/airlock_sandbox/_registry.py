"""The inspect_ai entry point: importing it registers the "airlock" sandbox."""
from .inspect_provider import AirlockSandboxEnvironment  # noqa: F401
