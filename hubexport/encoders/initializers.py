"""The truncated-normal initializer every family uses for random weights."""
import keras


def truncated_normal(stddev: float) -> keras.initializers.Initializer:
    return keras.initializers.TruncatedNormal(stddev=stddev)
