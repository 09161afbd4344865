"""mixup-bench: a benchmark harness for mixup augmentation in image classification.

The flow is suite (YAML) -> jobs (frozen, hashed) -> executor -> run folders -> leaderboards.
See README.md for the commands and DESIGN notes in each module for the why.
"""

__version__ = "0.2.0"
