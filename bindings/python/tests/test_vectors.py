"""The shared validation vectors (Tests/vectors/invalid.json): the core's exact messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import himetrica
from conftest import REPO

VECTORS = REPO / "Tests" / "vectors" / "invalid.json"
DATA = json.loads(VECTORS.read_text()) if VECTORS.is_file() else {"cases": [], "valid": []}

NAMES = {
    "eventName": "event_name",
    "userId": "user_id",
    "email": "email",
    "visitorId": "visitor_id",
    "properties": "properties",
    "timestamp": "timestamp",
    "session": "session",
    "traits": "traits",
}


def arguments(args: dict) -> dict:
    out = {}
    for name, value in args.items():
        if name.endswith("Hex"):
            out[NAMES[name[:-3]]] = bytes.fromhex(value)  # raw bytes through ctypes
        else:
            out[NAMES[name]] = value  # JSON text passed as given
    return out


def call(client, case):
    kwargs = arguments(case["args"])
    if case["call"] == "track":
        return client.track(kwargs.pop("event_name"), **kwargs)
    if case["call"] == "identify":
        return client.identify(**kwargs)
    return client.user_id(kwargs["visitor_id"], timeout=5)


@pytest.fixture(scope="module")
def vclient(_devserver):
    c = himetrica.Client(
        "hm_sk_test_python_0001", endpoint=_devserver.endpoint, rate_limit_track=None, rate_limit_identify=None,
        queue_capacity=10000,
    )
    yield c
    c.shutdown(5)


def test_vectors_present():
    assert len(DATA["cases"]) > 100, f"missing {VECTORS}"


@pytest.mark.parametrize("case", DATA["cases"], ids=[c["name"] for c in DATA["cases"]])
def test_invalid(vclient, case):
    with pytest.raises(himetrica.ValidationError) as info:
        call(vclient, case)
    assert str(info.value) == case["error"]
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("case", DATA["valid"], ids=[c["name"] for c in DATA["valid"]])
def test_valid(vclient, case):
    call(vclient, case)
