"""make bench-peers: grappo next to ONNX Runtime, OpenVINO, Intel Neural Compressor and
TensorFlow on the same SavedModels, same machine, same run (docs/bench-peers.md).

Modules: ``cli`` (the command), ``models`` (which SavedModel, its data), ``engines`` (one module
per engine: how it converts/quantizes and how it runs), ``worker`` (one process per engine),
``timing`` (the alternating loop), ``stats``/``table``/``svg``/``results_md`` (stdlib only:
what the numbers mean and how they are shown), ``machine`` (CPU, ISA flags, versions).
"""
