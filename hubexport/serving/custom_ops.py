"""Which tf.text op libraries a SavedModel needs outside Python.

tf.text ops are custom ops: a server or a C program must load their shared libraries (or be
built with them) before it loads the graph. The op types a SavedModel uses are read from its
`saved_model.pb` (graph nodes and every library function); the ops each tf.text library
registers are read from the library itself with TensorFlow's `TF_GetOpList`.
"""

from __future__ import annotations

import functools
import pathlib

from tensorflow.core.framework import op_def_pb2
from tensorflow.core.protobuf import saved_model_pb2
from tensorflow.python.client import pywrap_tf_session

TEXT_OPS_DIR = ("python", "ops")


def saved_model_op_types(export_dir: str | pathlib.Path) -> set[str]:
    """Every op type in the SavedModel's graphs, including inside its functions."""
    saved_model = saved_model_pb2.SavedModel()
    saved_model.ParseFromString((pathlib.Path(export_dir) / "saved_model.pb").read_bytes())
    types = set()
    for meta_graph in saved_model.meta_graphs:
        graph = meta_graph.graph_def
        types.update(node.op for node in graph.node)
        types.update(node.op for function in graph.library.function for node in function.node_def)
    return types


@functools.cache
def text_op_libraries() -> dict[pathlib.Path, frozenset[str]]:
    """Each shared library of the installed tensorflow-text -> the op names it registers.

    Loading a library that `import tensorflow_text` already loaded returns the same handle, so
    this is cheap and registers nothing twice.
    """
    import tensorflow_text

    directory = pathlib.Path(tensorflow_text.__file__).parent.joinpath(*TEXT_OPS_DIR)
    libraries = {}
    for path in sorted(directory.glob("*.so")):
        handle = pywrap_tf_session.TF_LoadLibrary(str(path))
        try:
            op_list = op_def_pb2.OpList.FromString(pywrap_tf_session.TF_GetOpList(handle))
        finally:
            pywrap_tf_session.TF_DeleteLibraryHandle(handle)
        libraries[path] = frozenset(op.name for op in op_list.op)
    return libraries


def required_text_ops(export_dir: str | pathlib.Path) -> dict[pathlib.Path, list[str]]:
    """The tf.text libraries the SavedModel needs -> the op types it uses from each."""
    used = saved_model_op_types(export_dir)
    return {path: sorted(used & ops) for path, ops in text_op_libraries().items() if used & ops}
