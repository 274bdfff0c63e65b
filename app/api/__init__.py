"""Flowyard's HTTP API: the ordered-steps surface (v1) and its shared plumbing."""
