"""Configuration: the constant tables (`constants`) and the pipeline-file loader (`loader`).

Deliberately empty: importing a submodule must not load anything else or touch the disk.
"""
