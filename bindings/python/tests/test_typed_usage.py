"""examples/typed_usage.py, which mypy --strict checks (make test-python-types), also runs:
every public call it makes works against a dev server as its types say."""

from __future__ import annotations

import os
import subprocess
import sys

from conftest import HERE, KEY


def test_typed_usage_example_runs(server) -> None:
    example = HERE.parent / "examples" / "typed_usage.py"
    env = dict(os.environ, HIMETRICA_SECRET_KEY=KEY, HIMETRICA_ENDPOINT=server.endpoint,
               PYTHONPATH=str(HERE.parent / "src"))
    result = subprocess.run([sys.executable, str(example)], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "typed usage ok"
    names = {e["body"].get("eventName") for e in server.wait_events(10, timeout=10)}
    assert {"typed_signup", "typed_bytes", "typed_by_user", "typed_scoped", "typed_module",
            "typed_wsgi_view", "typed_request"} <= names, names
