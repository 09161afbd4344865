"""Datasets: one module per on-disk release format, a synthetic set, and the batch loaders."""
