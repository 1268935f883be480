"""End-to-end speech classification: encoder (pretrained or from scratch) + pooling + head."""
