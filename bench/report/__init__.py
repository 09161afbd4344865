"""Leaderboards and comparisons, derived from run folders and published numbers; never edited by hand."""
