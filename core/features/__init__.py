"""The feature store: embeddings of a catalog's images by one extractor, kept on disk and keyed by content."""
