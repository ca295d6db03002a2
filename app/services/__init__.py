"""Use cases of the service: each function takes a session, flushes, and never commits."""
