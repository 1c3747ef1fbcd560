"""What the binding takes from the C ABI instead of copying it: the masking rule, the counters
(one snapshot, named by the generated constants), the status codes, the version."""

from __future__ import annotations

from pathlib import Path

import himetrica
from himetrica import _constants, _native
from himetrica.client import mask_key

from conftest import KEY

REPO = Path(__file__).resolve().parents[3]


def test_mask_key_is_the_core_rule() -> None:
    assert mask_key(KEY) == "hm_sk_…0001"
    assert mask_key("hm_sk_abc1234") == "hm_sk_…"  # a short key shows none of its characters
    assert mask_key("") == "hm_sk_…"
    assert mask_key(None) == "None"


def test_stats_is_one_balanced_snapshot() -> None:
    # Nothing listens on port 9: calls are queued and retried, never delivered.
    client = himetrica.Client(KEY, endpoint="http://127.0.0.1:9/api/v1", queue_capacity=3, max_in_flight=1)
    try:
        for i in range(6):
            try:
                client.track("abi_test", visitor_id=f"v{i}")
            except himetrica.QueueFullError:
                pass
        s = client.stats()
        assert list(s) == list(_constants.STATS)
        assert s["queued"] == 6 and s["dropped"] == 3
        assert s["queued"] == s["delivered"] + s["rejected"] + s["gave_up"] + s["dropped"] + s["queue_depth"] + s["in_flight"]
    finally:
        client.shutdown(timeout=0)


def test_status_codes_match_the_library() -> None:
    lib = _native.load()
    for name, code in _constants.STATUS.items():
        assert lib.hm_status_name(code) != b"unknown", name
    assert himetrica.QueueFullError.status == _constants.STATUS["QUEUE_FULL"]
    assert lib.hm_stat_name(len(_constants.STATS)) is None


def test_version_is_one() -> None:
    lib = _native.load()
    assert himetrica.__version__ == (REPO / "VERSION").read_text().strip() == lib.hm_version().decode()
    major, minor, patch = (int(part) for part in himetrica.__version__.split("."))
    assert lib.hm_version_number() == (major << 16) | (minor << 8) | patch
