"""The Weft HTTP service."""
