"""Delivery channels: one module per provider, all speaking the ``Channel`` contract."""
