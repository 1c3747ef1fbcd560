"""The platform wheel installs into a fresh venv and works from outside the source tree."""

from __future__ import annotations

import glob
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import KEY, REPO

SMOKE = """
import os, sys, himetrica
path = himetrica.library_path()
assert "site-packages" in path and path.endswith("himetrica/lib/libhimetrica.so"), path
assert "bindings" not in himetrica.__file__, himetrica.__file__
c = himetrica.Client(os.environ["HM_KEY"], endpoint=os.environ["HM_ENDPOINT"])
c.track("wheel_smoke", visitor_id="wheel-v", properties={"ok": True})
c.identify(visitor_id="wheel-v", traits={"name": "Wheel"})
assert c.user_id("wheel-v").startswith("hm_usr_")
try:
    c.track("bad name", visitor_id="wheel-v")
except himetrica.ValidationError as e:
    assert str(e) == "eventName: may contain only letters, digits, '_' and '-'", e
assert c.flush(10)
print("smoke ok", himetrica.library_version())
"""


def _wheel(tmp_path: Path) -> str:
    wheels = glob.glob(os.path.join(os.environ.get("HIMETRICA_WHEEL_DIR", str(REPO / "bindings/python/dist")), "*.whl"))
    if wheels:
        return max(wheels, key=os.path.getmtime)
    if not (REPO / "build" / "lib" / "libhimetrica.so").is_file():
        pytest.skip("no wheel and no build/lib/libhimetrica.so: run `make python-wheel`")
    out = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(out),
         str(REPO / "bindings" / "python")],
        check=True, timeout=300,
    )
    return glob.glob(str(out / "*.whl"))[0]


def test_wheel_in_fresh_venv(tmp_path, server):
    wheel = _wheel(tmp_path)
    assert "-py3-none-linux_" in os.path.basename(wheel) or "manylinux" in wheel
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = str(venv / "bin" / "python")
    subprocess.run([python, "-m", "pip", "install", "-q", "--no-index", "--disable-pip-version-check", wheel],
                   check=True, timeout=120)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    env = {"PATH": "/usr/bin:/bin", "HM_KEY": KEY, "HM_ENDPOINT": server.endpoint, "HOME": str(tmp_path)}
    result = subprocess.run([python, "-c", textwrap.dedent(SMOKE)], cwd=outside, env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "smoke ok" in result.stdout
    names = [e["body"].get("eventName") for e in server.wait_events(2, timeout=5)]
    assert "wheel_smoke" in names
