"""Persona-consistent role-play and dialogue generation on local language models."""

__version__ = "0.1.0"
