"""The mqtt channel."""
