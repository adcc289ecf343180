"""The generator (needs the ``grpc-errgen[codegen]`` extra; the runtime never imports it).

descriptors -> front ends (``frontend``) -> the typed model (``model``) -> back end (``backend``) -> template ->
files; ``pipeline.generate`` is the one path behind the CLI (``cli``, ``protoc``) and the plugin (``plugin``).
"""
