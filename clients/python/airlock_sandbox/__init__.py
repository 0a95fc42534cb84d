"""airlock_sandbox: drive airlock sessions from Python (standard library only).

    async with await Sandbox.create(memory="1GiB") as sb:
        r = await sb.exec(["python3", "-c", "print(6*7)"])
        assert r.success and r.stdout == "42\\n"

Every call runs the `airlock` CLI with `--json`; the sandbox lives in its
own detached supervisor until `close()` (airlock rm), its idle timeout or
its maximum lifetime.
"""
from ._client import (
    ExecResult,
    OutputLimitError,
    Sandbox,
    SandboxError,
    DEFAULT_READ_LIMIT,
    DEFAULT_OUTPUT_LIMIT,
)

__all__ = [
    "ExecResult",
    "OutputLimitError",
    "Sandbox",
    "SandboxError",
    "DEFAULT_READ_LIMIT",
    "DEFAULT_OUTPUT_LIMIT",
]
