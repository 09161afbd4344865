"""Mixup methods, one file each, behind the interface in `bench.methods.base`."""
