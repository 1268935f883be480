"""Corpus sources (hub, ``datasets``, local manifests, the embedded default) and their loaders."""
