"""Data files of the controller (a package so that setuptools ships them)."""
