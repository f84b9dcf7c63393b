"""Byte-level BPE: vocabulary files, the byte-to-unicode map and the in-graph merge loop."""
