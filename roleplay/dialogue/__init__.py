"""Multi-character dialogue: scenes and corpora (``roleplay generate``, docs/dialogue.md).

The back-test of a corpus is an evaluation and lives in ``roleplay.evaluation.backtest``;
this package never imports ``roleplay.evaluation`` (``.importlinter``)."""
