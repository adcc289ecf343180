"""The generator: descriptors -> model (``model``) -> Jinja2 templates -> black -> files (``generate``)."""
