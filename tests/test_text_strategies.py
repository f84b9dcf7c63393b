"""The suite's hypothesis setup: text strategies draw only valid UTF-8, and CI runs derandomized."""

from __future__ import annotations

import os

import pytest
import tensorflow as tf
from hypothesis import given, settings

from tests.support.text_strategies import utf8_text


@given(text=utf8_text(extra=["\u0301", "\U0001f3fd", "\x00"], max_size=200))
def test_utf8_text_is_always_a_valid_string_tensor(text):
    encoded = text.encode("utf-8")
    assert tf.constant([text]).numpy()[0] == encoded


def test_a_lone_surrogate_among_the_extras_is_refused():
    with pytest.raises(UnicodeEncodeError):
        utf8_text(extra=["a", "\ud800"], max_size=5)


def test_ci_profile_is_derandomized_and_replayable():
    assert settings.default.print_blob
    assert settings.default.derandomize == bool(os.environ.get("CI"))
    if os.environ.get("CI"):
        assert settings.default.database is None
