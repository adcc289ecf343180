"""The typed, immutable model between the front ends and the back end (``files``: errors and services;
``rules``: validation)."""
