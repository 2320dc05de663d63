"""Embedding models: the ``Embedder`` protocol, the default pretrained model, and the registry."""
