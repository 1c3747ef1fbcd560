#!/usr/bin/env python3
"""Writes the fuzzers' seed corpus from the shared vectors (Tests/vectors/invalid.json).

    python3 Tests/fuzz/make-corpus.py      # rewrites Tests/fuzz/corpus/{rules,capi}

Input layout of both fuzzers: byte 0 picks what is fuzzed, the rest is split at 0x00 into
arguments (see FuzzRules.swift and fuzz_capi.c). Commit the result.
"""
import hashlib
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
VECTORS = os.path.join(HERE, "..", "vectors", "invalid.json")
MEMBERS = ["eventName", "userId", "email", "visitorId", "properties", "timestamp", "session", "traits"]


def arg(args, name):
    if name + "Hex" in args:
        return bytes.fromhex(args[name + "Hex"])
    if name in args:
        return args[name].encode("utf-8", "surrogatepass")
    return None


def write(folder, data):
    os.makedirs(folder, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()[:16]
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


def main():
    data = json.load(open(VECTORS))
    rules = os.path.join(HERE, "corpus", "rules")
    capi = os.path.join(HERE, "corpus", "capi")
    for folder in (rules, capi):
        if os.path.isdir(folder):
            for old in os.listdir(folder):
                os.remove(os.path.join(folder, old))
    for case in data["cases"] + data["valid"]:
        a = case["args"]
        ident = arg(a, "visitorId") or arg(a, "email") or arg(a, "userId") or b"v"
        props, traits, ts = arg(a, "properties"), arg(a, "traits"), arg(a, "timestamp")
        name, session = arg(a, "eventName"), arg(a, "session")
        # rules fuzzer (FuzzRules.swift): 0 JSON, 1 timestamp, 2 identities, 3 name/session, 4 bodies
        if props is not None and len(props) < 4096:
            write(rules, b"\x00" + props)
        if traits is not None and len(traits) < 4096:
            write(rules, b"\x80" + traits)
        if ts is not None:
            write(rules, b"\x01" + ts)
        if name is not None and len(name) < 300:
            write(rules, b"\x03" + name + b"\x00" + (session or b"latest"))
        if len(ident) < 600:
            write(rules, bytes([2 | (7 << 3)]) + b"\x00".join([arg(a, "userId") or b"", arg(a, "email") or b"", ident]))
        if case["call"] == "track" and len(props or b"") < 4096:
            write(rules, b"\x04" + b"\x00".join([ident, name or b"e", props or b"{}", ts or b"", session or b""]))
        # C API fuzzer (fuzz_capi.c): byte 0 = call (low 2 bits) + which arguments are NULL
        fields = [arg(a, m) for m in MEMBERS]
        if all(f is None or len(f) < 4096 for f in fields):
            call = {"track": 0, "identify": 1, "userId": 2}[case["call"]]
            mask = sum(1 << i for i, f in enumerate(fields) if f is None) & 0x3F
            write(capi, bytes([call | (mask << 2)]) + b"\x00".join((f or b"").replace(b"\x00", b"\x01") for f in fields))
    for key in [b"hm_sk_live_0123456789abcdef", b"hm_sk_", b"sk_test", b"hm_sk_\xff\xfe"]:
        write(rules, b"\x05" + key)
    for ms in [b"\x00" * 8, b"\x7f" + b"\xff" * 7, b"\x00\x00\x01\x8d\x2a\x00\x00\x00"]:
        write(rules, b"\x05x\x00" + ms)
    options = [(b"endpoint", b"http://127.0.0.1:1/api/v1"), (b"max_in_flight", b"8"), (b"rate_limit_track", b"1000/60"),
               (b"rate_limit_identify", b"none"), (b"retry_base_delay", b"0.25"), (b"max_response_bytes", b"65536"),
               (b"ca_file", b"/nonexistent"), (b"allow_insecure_http", b"true"), (b"queue_capacity", b"1e3")]
    for name, value in options:
        write(capi, b"\x03" + name + b"\x00" + value)
    print(f"rules: {len(os.listdir(rules))} seeds, capi: {len(os.listdir(capi))} seeds")


if __name__ == "__main__":
    main()
