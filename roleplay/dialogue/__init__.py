"""Multi-character dialogue: scenes, corpora and back-testing (``roleplay generate``,
docs/dialogue.md)."""
