"""Persona fidelity: interview characters with a Big-Five questionnaire and compare with their
cards (``roleplay eval persona``, docs/evaluation.md), and back-test dialogue corpora
(``backtest.py``, ``roleplay generate backtest``). Modules import torch lazily."""
