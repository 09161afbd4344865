"""Backbones (timm names, CIFAR stem) and checkpoint import."""
