"""The bad-input battery of the task API (steps 1 and 2): generated bodies and ids that the API
must refuse with a JSON 4xx and a clear message, never a 5xx, an HTML page or a traceback."""

from __future__ import annotations

import json

from hypothesis import strategies as st

# Any JSON value, nested a little.
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**40), max_value=10**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=15,
)
# A "seconds" the API must refuse: out of 0..30, or not a number at all.
BAD_SECONDS = st.one_of(
    st.integers(max_value=-1),
    st.integers(min_value=31, max_value=10**40),
    st.floats(max_value=-0.0001, allow_infinity=False, allow_nan=False),
    st.floats(min_value=30.0001, allow_nan=False),
    st.booleans(),
    st.none(),
    st.text(max_size=10),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
# A body the API must refuse: an object with a bad "seconds", any other JSON value, text that is
# not JSON, or bytes that are not UTF-8.
BAD_BODIES = st.one_of(
    st.builds(
        lambda extra, seconds: json.dumps({**extra, "seconds": seconds}).encode(),
        st.dictionaries(st.text(max_size=8).filter(lambda key: key != "seconds"), JSON, max_size=3),
        BAD_SECONDS,
    ),
    JSON.filter(lambda value: not isinstance(value, dict)).map(lambda v: json.dumps(v).encode()),
    st.text(min_size=1, max_size=40).filter(lambda text: not looks_like_json(text)).map(str.encode),
    st.binary(min_size=1, max_size=40).filter(lambda raw: not utf8(raw)),
    st.integers(min_value=50, max_value=200_000).map(lambda depth: b"[" * depth + b"]" * depth),
)
# Ids that were never submitted, some of them odd.
ODD_IDS = st.one_of(
    st.uuids().map(str),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=60),
    st.sampled_from(
        ["..", "../../etc/passwd", "%2e%2e%2f", "a" * 3000, "%00", "null", "-1", "0/", "a//b", "/"]
    ),
)


def looks_like_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def utf8(raw: bytes) -> bool:
    try:
        raw.decode()
    except UnicodeDecodeError:
        return False
    return True


def assert_json_4xx(status: int, content_type: str, text: str, allowed=range(400, 500)) -> None:
    assert status in allowed, f"{status}: {text[:300]}"
    assert content_type.startswith("application/json"), f"{status} {content_type}: {text[:300]}"
    body = json.loads(text)
    assert body.get("message") or body.get("error"), text[:300]
    assert "Traceback" not in text and 'File "' not in text
