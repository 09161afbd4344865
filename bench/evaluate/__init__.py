"""Evaluators: clean top-1, and later corruption, adversarial and calibration metrics."""
