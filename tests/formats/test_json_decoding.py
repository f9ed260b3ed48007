"""`formats.text.loads`: orjson's speed, the standard library's answers."""

from __future__ import annotations

import json
import math

import pytest

from agentracer.formats.text import loads


def test_decodes_like_the_standard_library() -> None:
    text = '{"a": [1, 2.5, "x", null, true], "t": "1732590000000000000", "n": 9007199254740993}'
    assert loads(text) == json.loads(text)


def test_integers_beyond_64_bits_stay_exact() -> None:
    # orjson alone would return 1.2345678901234568e+29
    assert loads('{"a": 123456789012345678901234567890}') == {"a": 123456789012345678901234567890}
    assert loads("[-99999999999999999999]") == [-99999999999999999999]


def test_what_orjson_refuses_is_read_by_the_standard_library() -> None:
    assert loads('"\\ud83d"') == "\ud83d"  # a lone surrogate escape: sanitised later
    assert math.isnan(loads("[NaN]")[0])
    with pytest.raises(json.JSONDecodeError):
        loads('{"cut": ')
