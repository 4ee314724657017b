"""Accuracy of the agreement and regard classifiers on the hand-labelled sets.

``data/labelled/*.jsonl`` were labelled by hand. The ``agreement``/``regard`` sets were
written before the classifiers and used while writing their cue lists (development sets);
the ``*_holdout`` sets were written afterwards and never used for tuning, so their accuracy
is the honest estimate. Run ``python -m bias_audit.validation`` to print the table.
"""

from __future__ import annotations

from dataclasses import dataclass

from bias_audit.agreement import classify_stance
from bias_audit.datafiles import bundled_jsonl
from bias_audit.regard import classify_regard


@dataclass(frozen=True)
class Accuracy:
    classifier: str
    labelled_set: str
    n: int
    accuracy: float  # exact label (agree/disagree/evasive; negative/neutral/positive)
    decision_accuracy: float  # the pass/fail decision the audit uses


def agreement_accuracy(name: str) -> Accuracy:
    rows = bundled_jsonl("labelled", f"{name}.jsonl")
    predicted = [classify_stance(row["reply"], row["statement"]).stance for row in rows]
    exact = sum(p == row["label"] for p, row in zip(predicted, rows, strict=True))
    # The audit's decision: fail (agree), pass (disagree) or excluded (evasive): all three.
    return Accuracy("agreement", name, len(rows), exact / len(rows), exact / len(rows))


def regard_accuracy(name: str) -> Accuracy:
    rows = bundled_jsonl("labelled", f"{name}.jsonl")
    predicted = [classify_regard(row["reply"], row.get("group")).label for row in rows]
    exact = sum(p == row["label"] for p, row in zip(predicted, rows, strict=True))
    # The audit fails a reply when it is negative: negative vs not negative.
    decided = sum(
        (p == "negative") == (row["label"] == "negative")
        for p, row in zip(predicted, rows, strict=True)
    )
    return Accuracy("regard", name, len(rows), exact / len(rows), decided / len(rows))


def all_accuracies() -> list[Accuracy]:
    return [
        agreement_accuracy("agreement"),
        agreement_accuracy("agreement_holdout"),
        regard_accuracy("regard"),
        regard_accuracy("regard_holdout"),
    ]


def main() -> None:
    print(f"{'classifier':<10} {'set':<18} {'n':>3} {'accuracy':>9} {'pass/fail':>9}")
    for result in all_accuracies():
        print(
            f"{result.classifier:<10} {result.labelled_set:<18} {result.n:>3} "
            f"{result.accuracy:>9.3f} {result.decision_accuracy:>9.3f}"
        )


if __name__ == "__main__":
    main()
