"""runtime_options.graph_optimization_off: Grappler is off inside, restored after (also on error),
and a function first called inside computes what it computes optimized."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from hubexport.runtime_options import graph_optimization_off


def test_options_are_off_inside_and_restored_after_an_error():
    before = tf.config.optimizer.get_experimental_options()
    with pytest.raises(KeyError), graph_optimization_off():
        assert tf.config.optimizer.get_experimental_options()["disable_meta_optimizer"] is True
        raise KeyError("body failed")
    assert tf.config.optimizer.get_experimental_options() == before


def test_an_unoptimized_call_gives_the_optimized_result():
    @tf.function
    def dense_gelu(x, kernel, bias):  # a pattern Grappler's remapper fuses
        return tf.nn.gelu(tf.matmul(x, kernel) + bias)

    x, kernel, bias = (
        tf.random.stateless_normal(shape, seed=[1, i]) for i, shape in enumerate([(8, 16), (16, 4), (4,)])
    )
    with graph_optimization_off():
        unoptimized = dense_gelu(x, kernel, bias).numpy()
    np.testing.assert_allclose(dense_gelu(x, kernel, bias).numpy(), unoptimized, rtol=1e-6, atol=1e-6)
