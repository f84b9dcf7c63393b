"""Embedding a corpus with an end-to-end export on Apache Beam (`hubexport-embed`, embed_main.py).

`pipeline.embed_corpus` reads documents (text lines, JSON lines, Parquet or tf.train.Example
TFRecords), runs them through the export's serving signature with Beam's RunInference and
`model_handler.EndToEndModelHandler`, and writes one row per document (its id and the requested
outputs) plus a dead-letter output of the records that could not be embedded. The modules import
Apache Beam (the `beam` extra: `pip install "hubexport[beam]"`); this package file imports nothing,
so workers unpickling the handler load only what it needs.
"""
