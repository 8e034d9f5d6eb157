"""Edges: W&B, Qdrant, image files, PyTorch. Each adapter is thin and typed."""
