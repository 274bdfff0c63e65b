"""Reusable UI elements: plain data in, plain data out; none of them imports storage."""
