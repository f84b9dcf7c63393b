"""The root object of a Reusable SavedModel (TF Hub's format for fine-tunable models).

TF Hub's `KerasLayer` looks for `variables`, `trainable_variables` and `regularization_losses`
attributes on the loaded object. `tf.Module` computes `variables` as a property that is not saved,
so the root is an AutoTrackable (as Keras' own exporter uses) with those attributes stored.
Only the underlying `tf.Variable`s are tracked, never the Keras objects, so each variable is
written once.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import tensorflow as tf


class ReusableSavedModelRoot(tf.__internal__.tracking.AutoTrackable):
    """A trackable root holding the variables of `layers`, ready for functions to be attached."""

    def __init__(self, model: keras.Model, extra_models: Sequence[keras.Model] = ()):
        super().__init__()
        models = [model, *extra_models]
        seen: dict[int, tf.Variable] = {}
        trainable: dict[int, tf.Variable] = {}
        for each in models:
            for variable in each.variables:
                seen.setdefault(id(variable.value), variable.value)
            for variable in each.trainable_variables:
                trainable.setdefault(id(variable.value), variable.value)
        self.variables = list(seen.values())
        self.trainable_variables = list(trainable.values())
        self.regularization_losses = []
