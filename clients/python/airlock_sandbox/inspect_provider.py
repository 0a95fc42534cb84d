"""Inspect AI sandbox provider: `sandbox="airlock"` (or ("airlock", "spec.yaml")).

Imported only where inspect_ai is installed (the entry point in
pyproject.toml does it for Inspect). Each sample gets a fresh airlock
session; the sample's cleanup removes it (airlock rm: verified teardown,
final signed checkpoint in the session's log).
"""
from __future__ import annotations

from typing import Literal, Union, overload

from inspect_ai.util import (
    ExecResult,
    OutputLimitExceededError,
    SandboxEnvironment,
    SandboxEnvironmentLimits,
    sandboxenv,
)

from ._client import OutputLimitError, Sandbox, SandboxError


@sandboxenv(name="airlock")
class AirlockSandboxEnvironment(SandboxEnvironment):
    def __init__(self, sandbox: Sandbox):
        super().__init__()
        self._sb = sandbox

    @classmethod
    async def sample_init(cls, task_name: str, config, metadata: dict[str, str]) -> dict[str, SandboxEnvironment]:
        spec = config if isinstance(config, str) else None
        sb = await Sandbox.create(spec)
        return {"default": cls(sb)}

    @classmethod
    async def sample_cleanup(cls, task_name: str, config, environments: dict[str, SandboxEnvironment],
                             interrupted: bool) -> None:
        for env in environments.values():
            if isinstance(env, AirlockSandboxEnvironment):
                await env._sb.close()

    @classmethod
    async def task_cleanup(cls, task_name: str, config, cleanup: bool) -> None:
        # every sample removes its own session; idle timeouts catch the rest
        return None

    @classmethod
    async def cli_cleanup(cls, id: str | None) -> None:
        import asyncio
        import os
        import shutil
        binary = os.environ.get("AIRLOCK_BIN") or shutil.which("airlock") or "airlock"
        args = ["rm", id] if id else ["rm", "--all"]
        proc = await asyncio.create_subprocess_exec(binary, *args)
        await proc.wait()

    async def exec(self, cmd: list[str], input: str | bytes | None = None, cwd: str | None = None,
                   env: dict[str, str] = {}, user: str | None = None, timeout: int | None = None,
                   timeout_retry: bool = True, concurrency: bool = True) -> ExecResult[str]:
        limit = SandboxEnvironmentLimits.MAX_EXEC_OUTPUT_SIZE
        try:
            r = await self._sb.exec(cmd, input=input, cwd=cwd, env=env, user=user, timeout=timeout,
                                    max_output=limit)
        except SandboxError as e:
            if "--user" in str(e):
                return ExecResult(success=False, returncode=126, stdout=str(e), stderr=str(e))
            raise
        if r.stdout_truncated or r.stderr_truncated:
            raise OutputLimitExceededError(
                limit_str=SandboxEnvironmentLimits.MAX_EXEC_OUTPUT_SIZE_STR,
                truncated_output=r.stdout if r.stdout_truncated else r.stderr)
        if r.returncode == 126 and "Permission denied" in r.stderr:
            raise PermissionError(r.stderr.strip())
        return ExecResult(success=r.success, returncode=r.returncode, stdout=r.stdout, stderr=r.stderr)

    async def write_file(self, file: str, contents: str | bytes) -> None:
        await self._sb.write_file(file, contents)

    @overload
    async def read_file(self, file: str, text: Literal[True] = True) -> str: ...

    @overload
    async def read_file(self, file: str, text: Literal[False]) -> bytes: ...

    async def read_file(self, file: str, text: bool = True) -> Union[str, bytes]:
        try:
            return await self._sb.read_file(file, text=text, limit=SandboxEnvironmentLimits.MAX_READ_FILE_SIZE)
        except OutputLimitError:
            raise OutputLimitExceededError(
                limit_str=SandboxEnvironmentLimits.MAX_READ_FILE_SIZE_STR, truncated_output=None) from None
