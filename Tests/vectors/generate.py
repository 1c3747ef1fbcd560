#!/usr/bin/env python3
"""Writes invalid.json: the bad-input (and good-input) vectors every surface's tests run.

Run from anywhere: python3 Tests/vectors/generate.py. Expected messages are written by hand
from the rules in Sources/HimetricaRules; byte offsets in "is not valid JSON (... at byte N)"
are 0-based offsets into the properties/traits text as passed.
"""
import json, os

cases, valid = [], []
V = {"visitorId": "v_123"}
IDENT = "identity: one of userId, email or visitorId is required"
ONLY1 = "identity: give only one of userId, email or visitorId"
EVCH = "eventName: may contain only letters, digits, '_' and '-'"
TS = "timestamp: must be an ISO 8601 date-time with a time zone, e.g. 2026-01-31T12:00:00Z"
SESS = 'session: must be "latest" or "new" (or omitted)'
FIN = "numbers must be finite (no NaN or Infinity)"
DEEP = "must not nest deeper than 32 levels"
BIG = "must be at most 10240 bytes as compact JSON"
LONE = "must be valid Unicode (lone surrogate)"


def bad(name, call, args, error):
    cases.append({"name": name, "call": call, "args": args, "error": error})


def track(name, error, **args):
    a = dict(V) if not ({"userId", "email", "visitorId", "userIdHex", "emailHex", "visitorIdHex", "noIdentity"} & args.keys()) else {}
    args.pop("noIdentity", None)
    a.setdefault("eventName", "signup")
    a.update(args)
    if "eventNameHex" in a:
        del a["eventName"]
    bad(name, "track", a, error)


def ok(name, call, **args):
    if call == "track":
        a = dict(V) if not ({"userId", "email", "visitorId"} & args.keys()) else {}
        a.setdefault("eventName", "signup")
    elif call == "identify":
        a = dict(V) if not ({"userId", "email", "visitorId"} & args.keys()) else {}
        a.setdefault("traits", "{}")
    else:
        a = {}
    a.update(args)
    valid.append({"name": name, "call": call, "args": a})


def syn(field, what, at):
    return f"{field}: is not valid JSON ({what} at byte {at})"


def hexof(b):
    return b.hex()

# ---------------------------------------------------------------- identities
track("no identity", IDENT, noIdentity=True)
bad("identify: no identity", "identify", {"traits": "{}"}, IDENT)
track("userId and email", ONLY1, userId="hm_usr_1", email="a@b.c")
track("userId and visitorId", ONLY1, userId="hm_usr_1", visitorId="v")
track("email and visitorId", ONLY1, email="a@b.c", visitorId="v")
track("all three identities", ONLY1, userId="hm_usr_1", email="a@b.c", visitorId="v")
track("empty userId still counts as given", ONLY1, userId="", visitorId="v")
bad("identify: two identities", "identify", {"userId": "hm_usr_1", "email": "a@b.c", "traits": "{}"}, ONLY1)

samples = {"userId": "hm_usr_", "email": "a@", "visitorId": ""}
for f, pre in samples.items():
    track(f"{f} empty", f"{f}: must not be empty", **{f: ""})
    track(f"{f} blank (one space)", f"{f}: must not be blank", **{f: " "})
    track(f"{f} blank (spaces)", f"{f}: must not be blank", **{f: "    "})
    track(f"{f} 513 bytes", f"{f}: must be at most 512 bytes", **{f: pre + "x" * (513 - len(pre))})
    track(f"{f} 513 bytes of spaces (length checked before blank)", f"{f}: must be at most 512 bytes", **{f: " " * 513})
    for label, ch in [("LF", "\n"), ("CR", "\r"), ("CRLF", "\r\n"), ("tab", "\t"), ("NUL", "\u0000"),
                      ("ESC", "\u001b"), ("DEL", "\u007f"), ("unit separator", "\u001f")]:
        track(f"{f} contains {label}", f"{f}: must not contain control characters", **{f: pre + "a" + ch + "b"})
    track(f"{f} only a tab (control before blank)", f"{f}: must not contain control characters", **{f: "\t"})
    track(f"{f} invalid UTF-8 (0xff)", f"{f}: must be valid UTF-8", **{f + "Hex": hexof(pre.encode() + b"a\xff")})
    track(f"{f} invalid UTF-8 (truncated sequence)", f"{f}: must be valid UTF-8", **{f + "Hex": hexof(pre.encode() + b"a\xc3")})
    bad(f"identify: {f} with LF", "identify", {f: pre + "a\nb", "traits": "{}"}, f"{f}: must not contain control characters")
track("visitorId invalid UTF-8 (overlong '/')", "visitorId: must be valid UTF-8", visitorIdHex="c0af")
track("visitorId invalid UTF-8 (UTF-16 surrogate encoded)", "visitorId: must be valid UTF-8", visitorIdHex="eda080")
track("visitorId invalid UTF-8 (above U+10FFFF)", "visitorId: must be valid UTF-8", visitorIdHex="f4908080")
track("visitorId invalid UTF-8 (lone continuation byte)", "visitorId: must be valid UTF-8", visitorIdHex="80")
track("visitorId 513 bytes of two-byte characters", "visitorId: must be at most 512 bytes", visitorId="é" * 256 + "x")
track("UTF-8 of identities is checked before counting them", "userId: must be valid UTF-8", userIdHex="ff", email="a@b.c")
UID = "userId: must be a Himetrica user id (hm_usr_...); pass your own id as traits.userId"
track("userId without hm_usr_", UID, userId="usr_123")
track("userId with upper-case prefix", UID, userId="HM_USR_abc")
track("userId prefix not at start", UID, userId="x_hm_usr_abc")
track("userId with leading space", UID, userId=" hm_usr_abc")
bad("identify: userId without hm_usr_", "identify", {"userId": "42", "traits": '{"userId":"42"}'}, UID)
track("email without @", "email: must be an email address", email="jane.example.com")
track("email with fullwidth @", "email: must be an email address", email="jane＠example.com")
# user-id lookup
for name, vid, err in [("empty", "", "must not be empty"), ("blank", "  ", "must not be blank"),
                       ("513 bytes", "v" * 513, "must be at most 512 bytes"),
                       ("LF", "abc\n", "must not contain control characters"),
                       ("NUL", "ab\u0000c", "must not contain control characters")]:
    bad(f"userId lookup: visitorId {name}", "userId", {"visitorId": vid}, f"visitorId: {err}")
bad("userId lookup: visitorId invalid UTF-8", "userId", {"visitorIdHex": "61ff"}, "visitorId: must be valid UTF-8")

# ---------------------------------------------------------------- event names
track("eventName empty", "eventName: must not be empty", eventName="")
track("eventName 256 bytes", "eventName: must be at most 255 bytes", eventName="a" * 256)
track("eventName 256 bytes of bad characters (length checked first)", "eventName: must be at most 255 bytes", eventName="é" * 128)
for label, n in [("space inside", "sign up"), ("only a space", " "), ("trailing space", "signup "),
                 ("dot", "sign.up"), ("slash", "sign/up"), ("colon", "page:view"), ("at sign", "a@b"),
                 ("accented letter", "événement"), ("CJK", "登録"), ("emoji", "signup🎉"),
                 ("LF", "signup\n"), ("NUL", "sign\u0000up"), ("tab", "sign\tup"), ("plus", "a+b"),
                 ("dollar", "$pageview"), ("fullwidth letter", "ｓｉｇｎｕｐ")]:
    track(f"eventName with {label}", EVCH, eventName=n)
track("eventName invalid UTF-8", "eventName: must be valid UTF-8", eventNameHex="7369676eff")

# ---------------------------------------------------------------- timestamps
for label, t in [("Feb 30", "2026-02-30T12:00:00Z"), ("Feb 29 in a common year", "2026-02-29T12:00:00Z"),
                 ("Feb 29 in 1900 (not leap)", "1900-02-29T00:00:00Z"), ("Apr 31", "2026-04-31T00:00:00Z"),
                 ("month 13", "2026-13-01T00:00:00Z"), ("month 00", "2026-00-10T00:00:00Z"),
                 ("day 00", "2026-01-00T00:00:00Z"), ("day 32", "2026-01-32T00:00:00Z"),
                 ("hour 24", "2026-01-31T24:00:00Z"), ("minute 60", "2026-01-31T12:60:00Z"),
                 ("second 61", "2026-01-31T12:00:61Z"), ("missing zone", "2026-01-31T12:00:00"),
                 ("missing zone with fraction", "2026-01-31T12:00:00.123"), ("date only", "2026-01-31"),
                 ("no seconds", "2026-01-31T12:00Z"), ("empty fraction", "2026-01-31T12:00:00.Z"),
                 ("10 fraction digits", "2026-01-31T12:00:00.1234567890Z"), ("comma fraction", "2026-01-31T12:00:00,5Z"),
                 ("offset without colon", "2026-01-31T12:00:00+0100"), ("offset hours only", "2026-01-31T12:00:00+01"),
                 ("offset +24:00", "2026-01-31T12:00:00+24:00"), ("offset minutes 60", "2026-01-31T12:00:00+01:60"),
                 ("one-digit month", "2026-1-31T12:00:00Z"), ("two-digit year", "26-01-31T12:00:00Z"),
                 ("five-digit year", "20260-01-31T12:00:00Z"), ("slashes", "2026/01/31T12:00:00Z"),
                 ("basic format", "20260131T120000Z"), ("UTC word", "2026-01-31T12:00:00 UTC"),
                 ("double Z", "2026-01-31T12:00:00ZZ"), ("trailing space", "2026-01-31T12:00:00Z "),
                 ("leading space", " 2026-01-31T12:00:00Z"), ("underscore separator", "2026-01-31_12:00:00Z"),
                 ("RFC 1123", "Sat, 31 Jan 2026 12:00:00 GMT"), ("Unix seconds", "1769860800"),
                 ("garbage", "yesterday"), ("empty", ""), ("fullwidth digits", "２０２６-01-31T12:00:00Z"),
                 ("offset then Z", "2026-01-31T12:00:00+01:00Z"), ("LF at end", "2026-01-31T12:00:00Z\n"),
                 ("lower-case t and z", "2026-01-31t12:00:00z"), ("space separator", "2026-01-31 12:00:00Z"),
                 ("leap second", "2026-12-31T23:59:60Z")]:
    track(f"timestamp {label}", TS, timestamp=t)
track("timestamp invalid UTF-8", "timestamp: must be valid UTF-8", timestampHex="323032362dff")

# ---------------------------------------------------------------- sessions
for s in ["", "Latest", "LATEST", "NEW", "old", "none", "null", " latest", "latest ", "new\n", "latest,new"]:
    track(f"session {json.dumps(s)}", SESS, session=s)
track("session invalid UTF-8", "session: must be valid UTF-8", sessionHex="6e6577ff")

# ---------------------------------------------------------------- properties / traits: shape
for field, call in [("properties", "track"), ("traits", "identify")]:
    def P(name, text, error, hexed=False):
        key = field + ("Hex" if hexed else "")
        value = text.hex() if hexed else text
        if call == "track":
            track(f"{field}: {name}", error, **{key: value})
        else:
            bad(f"{field}: {name}", "identify", {**V, key: value}, error)
    for label, t in [("array", "[]"), ("array of objects", '[{"a":1}]'), ("string", '"plan"'), ("number", "42"),
                     ("null", "null"), ("true", "true"), ("closing brace", "}"), ("array with spaces", " [ ] ")]:
        P(f"not an object ({label})", t, f"{field}: must be a JSON object")
    P("empty text", "", f"{field}: must be a JSON object (got empty text)")
    P("only whitespace", " \n\t\r ", f"{field}: must be a JSON object (got empty text)")
    P("duplicate key", '{"a":1,"a":2}', f"{field}.a: duplicate key")
    P("33 levels of objects", '{"a":' * 32 + "{}" + "}" * 32, f"{field}{'.a' * 32}: {DEEP}")
    P("10241 bytes", '{"a":"' + "x" * 10233 + '"}', f"{field}: {BIG}")
    P("NaN value", '{"n":NaN}', f"{field}.n: {FIN}")
    P("invalid UTF-8", b'{"a":"\xff"}', f"{field}.a: must be valid UTF-8", hexed=True)
    P("trailing text", '{} x', syn(field, "unexpected text after the object", 3))

def PR(name, text, error):
    track(f"properties: {name}", error, properties=text)

def PH(name, raw, error):
    track(f"properties: {name}", error, propertiesHex=raw.hex())

P_ = "properties"
# invalid JSON of many kinds
PR("only an opening brace", "{", syn(P_, "expected a string key", 1))
PR("unterminated object", '{"a":1', syn(P_, "unexpected end", 6))
PR("unterminated object after comma", '{"a":1,', syn(P_, "expected a string key", 7))
PR("key without value", '{"a"}', syn(P_, "expected ':'", 4))
PR("colon without value", '{"a":}', syn(P_ + ".a", "unexpected character", 5))
PR("unquoted key", "{a:1}", syn(P_, "expected a string key", 1))
PR("single-quoted key", "{'a':1}", syn(P_, "expected a string key", 1))
PR("single-quoted value", "{\"a\":'x'}", syn(P_ + ".a", "unexpected character", 5))
PR("trailing comma in object", '{"a":1,}', syn(P_, "expected a string key", 7))
PR("missing comma between members", '{"a":1 "b":2}', syn(P_, "expected ',' or '}'", 7))
PR("missing ] in array", '{"a":[1,2}', syn(P_ + ".a", "expected ',' or ']'", 9))
PR("trailing comma in array", '{"a":[1,]}', syn(P_ + ".a[1]", "unexpected character", 8))
PR("leading comma in array", '{"a":[,1]}', syn(P_ + ".a[0]", "unexpected character", 6))
PR("comment", "{/* c */}", syn(P_, "expected a string key", 1))
PR("line comment after object", "{} // c", syn(P_, "unexpected text after the object", 3))
PR("two objects", "{}{}", syn(P_, "unexpected text after the object", 2))
PR("extra closing brace", '{"a":1}}', syn(P_, "unexpected text after the object", 7))
PR("object then array", "{} []", syn(P_, "unexpected text after the object", 3))
PR("unterminated string value", '{"a":"abc', syn(P_ + ".a", "unterminated string", 9))
PR("unterminated key", '{"ab', syn(P_, "unterminated string", 4))
PR("raw LF in string", '{"a":"x\ny"}', syn(P_ + ".a", "unescaped control character in a string", 7))
PR("raw tab in string", '{"a":"x\ty"}', syn(P_ + ".a", "unescaped control character in a string", 7))
PR("raw control character in a key", '{"\u0001":1}', syn(P_, "unescaped control character in a string", 2))
PR("invalid escape \\x", '{"a":"\\x41"}', syn(P_ + ".a", "invalid escape", 7))
PR("invalid escape \\'", '{"a":"\\\'"}', syn(P_ + ".a", "invalid escape", 7))
PR("short \\u escape", '{"a":"\\u12"}', syn(P_ + ".a", "invalid \\u escape", 10))
PR("non-hex \\u escape", '{"a":"\\uZZZZ"}', syn(P_ + ".a", "invalid \\u escape", 8))
PR("\\u escape cut by end of text", '{"a":"\\u1', syn(P_ + ".a", "invalid \\u escape", 8))
PR("backslash at end of text", '{"a":"\\', syn(P_ + ".a", "unterminated string", 7))
PR("True (capitalised)", '{"a":True}', syn(P_ + ".a", "unexpected character", 5))
PR("tru", '{"a":tru}', syn(P_ + ".a", "unexpected character", 5))
PR("nul at end of text", '{"a":nul', syn(P_ + ".a", "unexpected end", 5))
PR("undefined", '{"a":undefined}', syn(P_ + ".a", "unexpected character", 5))
PR("nan (lower case)", '{"a":nan}', syn(P_ + ".a", "unexpected character", 5))
PR("leading zero", '{"a":01}', syn(P_ + ".a", "invalid number", 6))
PR("leading zeros", '{"a":007}', syn(P_ + ".a", "invalid number", 6))
PR("negative leading zero", '{"a":-01}', syn(P_ + ".a", "invalid number", 7))
PR("leading zero before exponent digits", '{"a":[00]}', syn(P_ + ".a[0]", "invalid number", 7))
PR("fraction without digits", '{"a":1.}', syn(P_ + ".a", "invalid number", 7))
PR("fraction without integer part", '{"a":.5}', syn(P_ + ".a", "unexpected character", 5))
PR("plus sign", '{"a":+1}', syn(P_ + ".a", "unexpected character", 5))
PR("exponent without digits", '{"a":1e}', syn(P_ + ".a", "invalid number", 7))
PR("exponent sign without digits", '{"a":1e+}', syn(P_ + ".a", "invalid number", 8))
PR("minus alone", '{"a":-}', syn(P_ + ".a", "invalid number", 6))
PR("hex number", '{"a":0x10}', syn(P_, "expected ',' or '}'", 6))
PR("two decimal points", '{"a":1.5.2}', syn(P_, "expected ',' or '}'", 8))
PR("NaN", '{"a":NaN}', f"{P_}.a: {FIN}")
PR("Infinity", '{"a":Infinity}', f"{P_}.a: {FIN}")
PR("-Infinity", '{"a":-Infinity}', f"{P_}.a: {FIN}")
PR("NaN nested in an array", '{"a":{"b":[1,NaN]}}', f"{P_}.a.b[1]: {FIN}")
PR("-NaN", '{"a":-NaN}', syn(P_ + ".a", "invalid number", 6))
# duplicates
PR("duplicate key among others", '{"a":1,"b":2,"a":3}', f"{P_}.a: duplicate key")
PR("duplicate key nested", '{"x":{"a":1,"a":2}}', f"{P_}.x.a: duplicate key")
PR("duplicate key in an object in an array", '{"x":[{"b":1},{"a":1,"a":2}]}', f"{P_}.x[1].a: duplicate key")
PR("duplicate key deep", '{"x":{"y":{"z":{"k":1,"k":{}}}}}', f"{P_}.x.y.z.k: duplicate key")
PR("duplicate empty key", '{"":1,"":2}', f"{P_}.: duplicate key")
PR("duplicate key with escaped quote", '{"a\\"b":1,"a\\"b":2}', f'{P_}.a"b: duplicate key')
PR("duplicate unicode key", '{"名前":1,"名前":2}', f"{P_}.名前: duplicate key")
# lone surrogates
PR("lone high surrogate", '{"a":"\\ud800"}', f"{P_}.a: {LONE}")
PR("lone low surrogate", '{"a":"\\udc00"}', f"{P_}.a: {LONE}")
PR("high surrogate then letter", '{"a":"\\ud800x"}', f"{P_}.a: {LONE}")
PR("high surrogate then non-surrogate escape", '{"a":"\\ud800\\u0041"}', f"{P_}.a: {LONE}")
PR("surrogates in the wrong order", '{"a":"\\udfff\\ud800"}', f"{P_}.a: {LONE}")
PR("two high surrogates", '{"a":"\\ud83d\\ud83d"}', f"{P_}.a: {LONE}")
PR("lone surrogate in a key", '{"\\ud800":1}', f"{P_}: {LONE}")
PR("lone surrogate in an array", '{"a":["ok","\\uDBFF"]}', f"{P_}.a[1]: {LONE}")
# invalid UTF-8
for label, raw in [("0xff", b"\xff"), ("overlong '/'", b"\xc0\xaf"), ("overlong 3-byte NUL", b"\xe0\x80\x80"),
                   ("encoded surrogate", b"\xed\xa0\x80"), ("above U+10FFFF", b"\xf4\x90\x80\x80"),
                   ("5-byte sequence", b"\xf8\x88\x80\x80\x80"), ("lone continuation byte", b"\x80"),
                   ("truncated 2-byte sequence", b"\xc3"), ("truncated 3-byte sequence", b"\xe2\x82"),
                   ("Latin-1 e-acute", b"caf\xe9")]:
    PH(f"invalid UTF-8 in a string ({label})", b'{"a":"' + raw + b'"}', f"{P_}.a: must be valid UTF-8")
PH("invalid UTF-8 in a key", b'{"\xff":1}', f"{P_}: must be valid UTF-8")
PH("invalid UTF-8 nested", b'{"a":{"b":["\xfe"]}}', f"{P_}.a.b[0]: must be valid UTF-8")
PH("invalid UTF-8 at the end of the text", b'{"a":"\xe2\x82', f"{P_}.a: must be valid UTF-8")
PH("invalid UTF-8 outside a string", b'{"a":\xff}', syn(P_ + ".a", "unexpected character", 5))
PH("UTF-8 byte order mark", b'\xef\xbb\xbf{}', f"{P_}: must be a JSON object")
PH("NUL after the object", b'{}\x00', syn(P_, "unexpected text after the object", 2))
PH("raw NUL in a string", b'{"a":"\x00"}', syn(P_ + ".a", "unescaped control character in a string", 6))
# depth
PR("33 levels of arrays", '{"a":' + "[" * 32 + "]" * 32 + "}", f"{P_}.a{'[0]' * 31}: {DEEP}")
PR("33 levels mixing objects and arrays", '{"a":' + '[{"b":' * 16 + "{}" + "}]" * 16 + "}",
   f"{P_}.a{'[0].b' * 15}[0]: {DEEP}")
PR("33 levels with the deep one second in its array", '{"a":' + "[" * 31 + '1,[]' + "]" * 31 + "}",
   f"{P_}.a{'[0]' * 30}[1]: {DEEP}")
# size
PR("10241 bytes of two-byte characters", '{"a":"' + "é" * 5116 + 'x"}', f"{P_}: {BIG}")
PR("10241 compact bytes with whitespace", '{\n  "a" : "' + "x" * 10233 + '"\n}\n', f"{P_}: {BIG}")
PR("10241 bytes in a nested value (no path)", '{"a":{"b":"' + "x" * 10227 + '"}}', f"{P_}: {BIG}")
PR("10241 bytes of escapes (escapes count as written)", '{"a":"' + "\\n" * 5116 + 'x"}', f"{P_}: {BIG}")
PR("too large and invalid later (size reported first)", '{"a":"' + "x" * 10240 + '"', f"{P_}: {BIG}")

# ---------------------------------------------------------------- traits
T_ = "traits"
def TR(name, text, error, **extra):
    bad(f"traits: {name}", "identify", {**V, **extra, "traits": text}, error)
for k in ["email", "name", "userId"]:
    for label, v in [("number", "5"), ("true", "true"), ("object", "{}"), ("array", '["x"]')]:
        TR(f"{k} is a {label}", f'{{"{k}":{v}}}', f"{T_}.{k}: must be a string")
TR("email is a number after other members", '{"plan":"pro","email":42}', f"{T_}.email: must be a string")
TR("email with a bad literal", '{"email": nope}', T_ + ".email: must be a string")
TR("duplicate name", '{"name":"a","name":"b"}', f"{T_}.name: duplicate key")
TR("lone surrogate in a name", '{"name":"\\ud800"}', f"{T_}.name: {LONE}")
TR("33 levels of arrays", '{"a":' + "[" * 32 + "]" * 32 + "}", f"{T_}.a{'[0]' * 31}: {DEEP}")
bad("traits: identity is checked before traits", "identify", {"userId": "u1", "traits": "[]"}, UID)
# The server refuses an empty traits.email or traits.userId (400 "... must be a non-empty string").
for k in ["email", "userId"]:
    TR(f"{k} is empty", f'{{"{k}":""}}', f"{T_}.{k}: must not be empty")
    TR(f"{k} is empty with whitespace around", f'{{ "plan":"pro", "{k}" : "" }}', f"{T_}.{k}: must not be empty")
TR("non-string name is reported before an empty email", '{"email":"","name":5}', f"{T_}.name: must be a string")

# ---------------------------------------------------------------- check order for track
track("order: identity before eventName", IDENT, noIdentity=True, eventName="")
track("order: identity value before eventName", "visitorId: must not be empty", visitorId="", eventName="bad name")
track("order: eventName before properties", EVCH, eventName="bad name", properties="[]")
track("order: properties before timestamp", f"properties: must be a JSON object", properties="[]", timestamp="x")
track("order: timestamp before session", TS, timestamp="x", session="x")
track("order: everything wrong", IDENT, noIdentity=True, eventName="", properties="", timestamp="", session="")

# ---------------------------------------------------------------- valid
ok("visitorId", "track")
ok("userId", "track", userId="hm_usr_a1b2c3d4e5f6")
ok("email", "track", email="jane@example.com")
ok("userId that is only the prefix", "track", userId="hm_usr_")
ok("email that is only @", "track", email="@")
ok("identity of 512 bytes", "track", visitorId="v" * 512)
ok("identity of 512 bytes of two-byte characters", "track", visitorId="é" * 256)
ok("unicode visitorId", "track", visitorId="訪問者-🎉")
ok("identity with inner spaces", "track", visitorId=" a b ")
ok("eventName of 255 bytes", "track", eventName="e" * 255)
for n in ["a", "Z", "0", "_", "-", "subscription_renewed", "invoice-paid", "A1_b2-C3"]:
    ok(f"eventName {n}", "track", eventName=n)
for t in ["2026-01-31T12:00:00Z", "2026-01-31T12:00:00.1Z", "2026-01-31T12:00:00.123Z",
          "2026-01-31T12:00:00.123456789Z", "2026-01-31T12:00:00+05:30", "2026-01-31T12:00:00-08:00",
          "2026-01-31T12:00:00+00:00", "2026-01-31T12:00:00.5-00:00", "2026-01-31T12:00:00+23:59",
          "2024-02-29T00:00:00Z", "2000-02-29T23:59:59Z", "1970-01-01T00:00:00Z", "1969-12-31T23:59:59.999Z",
          "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "2026-04-30T00:00:00Z", "2026-12-31T23:59:59.000+14:00"]:
    ok(f"timestamp {t}", "track", timestamp=t)
ok("session latest", "track", session="latest")
ok("session new", "track", session="new")
ok("everything given", "track", userId="hm_usr_x", eventName="email_opened",
   properties='{"campaign":"onboarding_day_3"}', timestamp="2026-01-31T12:00:00Z", session="latest")
ok("empty properties", "track", properties="{}")
ok("properties with whitespace around", "track", properties=" \n\t{ }\r\n ")
ok("unicode property values", "track", properties='{"city":"Zürich","greeting":"こんにちは","emoji":"🎉👩‍💻","rtl":"שלום"}')
ok("unicode property keys", "track", properties='{"città":1,"名前":"x","🎉":true}')
ok("escaped unicode and surrogate pair", "track", properties='{"a":"\\u00e9\\ud83d\\ude00\\uDBFF\\uDFFF"}')
ok("all escapes", "track", properties='{"a":"\\"\\\\\\/\\b\\f\\n\\r\\t\\u0000"}')
ok("DEL and C1 characters in a string", "track", properties='{"a":"\u007f\u0085"}')
ok("numbers", "track", properties='{"a":0,"b":-0,"c":29.99,"d":-1.5e10,"e":1E-5,"f":1e+2,"g":0.0,"h":12345678901234567890123}')
ok("literals", "track", properties='{"t":true,"f":false,"n":null}')
ok("nested arrays and objects", "track", properties='{"items":[{"sku":"a","qty":2},{"sku":"b","qty":1}],"meta":{}}')
ok("same key in different objects", "track", properties='{"a":{"a":1},"b":{"a":2},"c":[{"a":1},{"a":1}]}')
ok("keys differing only in case", "track", properties='{"a":1,"A":2}')
ok("32 levels of objects", "track", properties='{"a":' * 31 + "{}" + "}" * 31)
ok("32 levels of arrays", "track", properties='{"a":' + "[" * 31 + "]" * 31 + "}")
ok("exactly 10240 bytes", "track", properties='{"a":"' + "x" * 10232 + '"}')
ok("exactly 10240 compact bytes with whitespace", "track", properties='{\n  "a" : "' + "x" * 10232 + '"\n}\n')
ok("exactly 10240 bytes of two-byte characters", "track", properties='{"a":"' + "é" * 5116 + '"}')
ok("NaN and Infinity inside strings", "track", properties='{"a":"NaN","b":"Infinity"}')
ok("identify with named traits", "identify", userId="hm_usr_a1b2c3d4e5f6",
   traits='{"userId":"usr_123","email":"jane@example.com","name":"Jane Doe","plan":"enterprise","company":"Acme Inc"}')
ok("identify by email", "identify", email="jane@example.com", traits='{"name":"Jane"}')
ok("identify with empty traits", "identify", traits="{}")
ok("identify with an empty name", "identify", traits='{"name":""}')
ok("identify with an empty nested email", "identify", traits='{"company":{"email":""}}')
for member in ["email", "name", "userId"]:
    TR(f"null {member} trait", '{"%s":null}' % member, f"{T_}.{member}: must be a string")
ok("identify with emoji trait names", "identify", traits='{"🎉 favourite":"party","名前":"花子","emoji 👩‍💻":1}')
ok("identify with non-string nested named keys", "identify", traits='{"company":{"name":5,"email":[]}}')
ok("identify with 32 levels", "identify", traits='{"a":' * 31 + "{}" + "}" * 31)
ok("user-id lookup", "userId", visitorId="abc123")
ok("user-id lookup with a UUID", "userId", visitorId="3f2b6c1e-8d4a-4c2b-9a7e-1f0d5e6c7b8a")

names = [c["name"] for c in cases] + [c["name"] for c in valid]
assert len(names) == len(set(names)), [n for n in names if names.count(n) > 1]
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "invalid.json")
with open(out, "w", encoding="utf-8") as f:
    f.write('{\n"cases": [\n')
    f.write(",\n".join(json.dumps(c, ensure_ascii=False) for c in cases))
    f.write('\n],\n"valid": [\n')
    f.write(",\n".join(json.dumps(c, ensure_ascii=False) for c in valid))
    f.write("\n]\n}\n")
print(len(cases), "invalid,", len(valid), "valid,", os.path.getsize(out), "bytes")
