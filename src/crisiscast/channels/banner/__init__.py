"""The banner channel."""
