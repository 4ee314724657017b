"""Persona fidelity: interview characters with a Big-Five questionnaire and compare with their
cards (``roleplay eval persona``, docs/evaluation.md). Modules import torch lazily."""
