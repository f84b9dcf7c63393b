"""Runs in a fresh interpreter that never imports hubexport: reloads encoder SavedModels.

Usage: python reload_encoder.py JOBS.json, where JOBS.json lists {"export_dir", "inputs", "outputs"}
entries: each `inputs` .npz is fed to the loaded model and the results are saved to `outputs`.
"""

import json
import sys

import numpy as np
import tensorflow as tf


def main(jobs_file: str) -> None:
    for job in json.load(open(jobs_file)):
        loaded = tf.saved_model.load(job["export_dir"])
        inputs = dict(np.load(job["inputs"]))
        outputs = loaded({k: tf.constant(v) for k, v in inputs.items()}, training=False)
        arrays = {
            "pooled_output": outputs["pooled_output"].numpy(),
            "sequence_output": outputs["sequence_output"].numpy(),
            "default": outputs["default"].numpy(),
        }
        arrays.update({f"encoder_outputs_{i}": t.numpy() for i, t in enumerate(outputs["encoder_outputs"])})
        np.savez(job["outputs"], **arrays)
    print("hubexport imported:", "hubexport" in sys.modules)


if __name__ == "__main__":
    main(sys.argv[1])
