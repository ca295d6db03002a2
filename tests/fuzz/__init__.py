"""A bounded, seeded schema fuzz run over every operation of the API."""
