"""A user's own ``sandbox.py`` cannot break the package: Code-v0 still runs code in this distribution's
sandbox, the user's module is never run by it, and the user's ``import sandbox`` still gets their own."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import json, os
    import gymnasium as gym
    import tooluse_envs  # registers the envs
    env = gym.make("tooluse/Code-v0", split="test_id", sandbox="subprocess")
    env.reset(seed=0)
    call = '<tool_call>{"name": "python", "arguments": {"code": "print(6 * 7)"}}</tool_call>'
    obs, reward, terminated, truncated, info = env.step(call)
    env.close()
    ran_before_import = os.path.exists("user_module_ran")
    import sandbox  # the user's own, still
    print(json.dumps({"obs": str(obs), "ran_before_import": ran_before_import, "who": sandbox.WHO}))
    """
)

USER_MODULE = 'open("user_module_ran", "w").close()\nWHO = "user"\n'


def test_a_users_sandbox_py_neither_breaks_code_v0_nor_is_replaced(tmp_path):
    (tmp_path / "sandbox.py").write_text(USER_MODULE)
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert "42" in result["obs"]  # the tool call ran in the project's sandbox
    assert result["ran_before_import"] is False  # the package never ran the user's module
    assert result["who"] == "user"  # and did not take the name from them


def test_without_a_shadowing_module_the_public_sandbox_package_is_used():
    import sandbox
    from tooluse_envs.sandbox_package import PRIVATE_NAME, project_sandbox

    assert project_sandbox() is sandbox
    assert PRIVATE_NAME not in sys.modules
