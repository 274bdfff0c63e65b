"""Flowyard: a self-hosted visual builder for durable, multi-step agent workflows."""

__version__ = "0.1.0"
