"""The science of Weft: plain functions and estimators over arrays and dataclasses.

Nothing here imports the web service or the database models, so every piece can be
used as a library and tested on plain arrays.
"""
