"""Big Five strengths that cancel the steering vectors' cross-talk (issue 17).

Each trait's vector, steered alone, moves the other traits' interview answers too: on the
default model agreeableness's vector moves measured neuroticism five times as much as its
own trait (BENCHMARKS.md, "Neuroticism reads low agreeableness"). ``data/crosstalk.yaml``
holds, per model, the fitted cross-talk ``M[U][S]`` (change in measured U per unit of S);
:func:`decouple` solves the strengths whose summed effects match what each trait's own vector
does alone at the card's strengths::

    s = argmin |M s - diag(M) s0|^2 + lambda |s - s0|^2,   lambda = ridge * mean(diag(M)^2)

then clips each to its fluency bound. The ridge keeps a noisy fit from sending the strengths
far from the card's. A fit holds only for the steering it was measured with (layers, method,
unit), which :func:`crosstalk_for` checks.

Least squares trades the traits off against each other: on the default model the openness
vector moves conscientiousness's and agreeableness's answers more than its own, so the plain
solve leaves some cards' openness with no push at all, or a push against the card. With a
``floor`` in the fit's entry (0 < floor), each trait U the card sets must keep at least that
share of its own effect, on the card's side, net of every vector::

    sign(s0_U) (M s)_U >= min(floor, t*) |M_UU s0_U|   for every U with s0_U != 0

where ``t*`` is the largest share the bounds allow for every trait at once (a linear
program), and the same objective is minimised within the fluency bounds under that
constraint (SLSQP).

The fit measures what the vectors do to the interview at the start of a chat, not to the
replies the character writes, which build the history later turns read; the plain solve
leaves low-agreeableness cards almost no agreeableness vector (other vectors carry the
fitted effect). With an ``own_share`` in the fit's entry, each vector the card sets keeps
at least that share of the card's own strength, on the card's side
(``sign(s0_U) s_U >= own_share |s0_U|``, within the fluency bound), and the same objective
is minimised within those bounds. Measured at 0.5 it lost on both checkpoints and is off in
the shipped entry: it set low-agreeableness cards' starting level right, but not their
agreeable drift over a conversation (BENCHMARKS.md, "Each vector keeps a share of the card's
strength").
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from roleplay.control.attributes import BIG_FIVE
from roleplay.control.config import SteeringConfig
from roleplay.errors import FileProblemsError, Problem
from roleplay.resources import package_path

DIGITS = 3  # solved strengths are rounded: stable descriptions, no false precision


@dataclass(frozen=True)
class Crosstalk:
    """One model's fitted cross-talk: ``matrix[U][S]`` in ``BIG_FIVE`` order."""

    model_id: str
    matrix: tuple[tuple[float, ...], ...]
    ridge: float
    layer_fractions: tuple[float, ...]
    method: str
    unit_relative_norm: float
    # trait -> the data hash of the attribute file (its pairs) the vectors were built from
    attribute_hashes: tuple[tuple[str, str], ...] = ()
    fitted: str = ""
    # the least share of its own effect each trait keeps, net of the cross-talk (0: none)
    floor: float = 0.0
    # the least share of the card's own strength each vector keeps, on its side (0: none)
    own_share: float = 0.0

    def mismatch(self, config: SteeringConfig, hashes: Mapping[str, str]) -> str | None:
        """What differs from the steering the fit was measured with (None: nothing): the
        layers, method or unit, or a Big Five attribute's pairs (``hashes``: trait -> the
        loaded attribute's data hash)."""
        if (
            self.layer_fractions != config.layer_fractions
            or self.method != config.method
            or not math.isclose(self.unit_relative_norm, config.unit_relative_norm)
        ):
            return (
                f"other steering settings (layers {list(self.layer_fractions)}, {self.method}, "
                f"unit {self.unit_relative_norm})"
            )
        changed = [t for t, digest in self.attribute_hashes if hashes.get(t) != digest]
        if changed:
            return f"other contrastive pairs for {', '.join(changed)}"
        return None


def crosstalk_path() -> Path:
    return package_path("roleplay.control", "data", "crosstalk.yaml")


def _finite(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value)


def _parse_model(model_id: str, entry: Any, where: str) -> tuple[Crosstalk | None, list[str]]:
    """One model's entry, or the problems that make it unusable."""
    if not isinstance(entry, Mapping):
        return None, [f"models.{model_id}: expected a mapping"]
    problems: list[str] = []
    rows = entry.get("matrix")
    matrix: list[tuple[float, ...]] = []
    if not isinstance(rows, Mapping) or sorted(rows) != sorted(BIG_FIVE):
        problems.append(f"models.{model_id}.matrix: needs one row per Big Five trait")
    else:
        for measured in BIG_FIVE:
            row = rows[measured]
            if (
                not isinstance(row, Mapping)
                or sorted(row) != sorted(BIG_FIVE)
                or not all(_finite(row[s]) for s in BIG_FIVE)
            ):
                problems.append(
                    f"models.{model_id}.matrix.{measured}: needs a finite number per Big Five trait"
                )
                continue
            matrix.append(tuple(float(row[steered]) for steered in BIG_FIVE))
    ridge: Any = entry.get("ridge")
    if not _finite(ridge) or ridge <= 0:
        problems.append(f"models.{model_id}.ridge: must be a positive number")
    floor: Any = entry.get("floor", 0.0)
    if not _finite(floor) or not 0 <= floor <= 1:
        problems.append(f"models.{model_id}.floor: must be a number from 0 to 1")
    own_share: Any = entry.get("own_share", 0.0)
    if not _finite(own_share) or not 0 <= own_share <= 1:
        problems.append(f"models.{model_id}.own_share: must be a number from 0 to 1")
    steering = entry.get("steering")
    if not isinstance(steering, Mapping):
        problems.append(f"models.{model_id}.steering: the steering the fit was measured with")
        steering = {}
    fractions = steering.get("layer_fractions")
    if not isinstance(fractions, list) or not fractions or not all(map(_finite, fractions)):
        problems.append(f"models.{model_id}.steering.layer_fractions: a list of numbers")
        fractions = []
    unit: Any = steering.get("unit_relative_norm")
    if not _finite(unit) or unit <= 0:
        problems.append(f"models.{model_id}.steering.unit_relative_norm: a positive number")
    hashes = steering.get("attributes")
    if (
        not isinstance(hashes, Mapping)
        or sorted(hashes) != sorted(BIG_FIVE)
        or not all(isinstance(v, str) and v for v in hashes.values())
    ):
        problems.append(
            f"models.{model_id}.steering.attributes: each Big Five attribute's data hash"
        )
        hashes = {}
    if problems:
        return None, problems
    return (
        Crosstalk(
            model_id=model_id,
            matrix=tuple(matrix),
            ridge=float(ridge),
            layer_fractions=tuple(float(f) for f in fractions),
            method=str(steering.get("method", "mean_difference")),
            unit_relative_norm=float(unit),
            attribute_hashes=tuple((t, str(hashes[t])) for t in BIG_FIVE),
            fitted=str(entry.get("fitted", "")),
            floor=float(floor),
            own_share=float(own_share),
        ),
        [],
    )


@cache
def load_crosstalk(path: Path | None = None) -> dict[str, Crosstalk]:
    """Every model's fit from ``crosstalk.yaml``; a malformed file raises
    ``FileProblemsError`` naming each problem."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    source = path or crosstalk_path()
    where = str(source)
    try:
        data = YAML(typ="safe").load(source.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, YAMLError) as error:
        raise FileProblemsError([Problem(where, 1, 1, f"cannot read: {error}")]) from None
    models = data.get("models") if isinstance(data, Mapping) else None
    if not isinstance(models, Mapping):
        raise FileProblemsError([Problem(where, 1, 1, "expected a 'models' mapping")])
    fits: dict[str, Crosstalk] = {}
    problems: list[Problem] = []
    for model_id, entry in models.items():
        fit, found = _parse_model(str(model_id), entry, where)
        problems.extend(Problem(where, 1, 1, message) for message in found)
        if fit is not None:
            fits[fit.model_id] = fit
    if problems:
        raise FileProblemsError(problems)
    return fits


def crosstalk_for(
    model_id: str, config: SteeringConfig, hashes: Mapping[str, str] | None = None
) -> tuple[Crosstalk | None, str]:
    """The model's fit when it applies to ``config`` and the attributes' pairs (``hashes``,
    trait -> data hash; None: the loaded attributes'), else None and why (for the notes)."""
    fit = load_crosstalk().get(model_id)
    if fit is None:
        return None, f"no cross-talk fit for {model_id} in {crosstalk_path().name}"
    if hashes is None:
        from roleplay.control.attributes import load_attributes

        specs = load_attributes()
        hashes = {t: specs[t].data_hash for t in BIG_FIVE if t in specs}
    mismatch = fit.mismatch(config, hashes)
    if mismatch:
        return None, f"the cross-talk fit for {model_id} was measured with {mismatch}"
    return fit, ""


def decouple(
    strengths: Mapping[str, float],
    fit: Crosstalk,
    bound: Callable[[str, float], float],
) -> dict[str, float]:
    """The Big Five strengths (every trait, 0 where the card has none) whose summed effects
    match each trait's own effect at ``strengths``, within ``bound(trait, value)`` (the
    fluency bound for the value's sign); with the fit's ``floor``, each trait the card sets
    keeps at least that share of its own effect on the card's side, and with its
    ``own_share``, each vector that share of the card's strength (module docstring)."""
    import numpy as np

    m = np.array(fit.matrix)
    s0 = np.array([float(strengths.get(trait, 0.0)) for trait in BIG_FIVE])
    ridge = fit.ridge * float(np.mean(np.diag(m) ** 2))
    target = np.diag(np.diag(m)) @ s0
    gram = m.T @ m + ridge * np.eye(len(BIG_FIVE))
    linear = m.T @ target + ridge * s0
    solved = np.linalg.solve(gram, linear)
    low = np.array([-bound(trait, -1.0) for trait in BIG_FIVE])
    high = np.array([bound(trait, 1.0) for trait in BIG_FIVE])
    if fit.own_share > 0:
        low, high = _keeping_own_share(s0, low, high, fit.own_share)
    clipped = np.clip(solved, low, high)
    if fit.floor > 0 or fit.own_share > 0:
        clipped = _constrained(m, s0, gram, linear, clipped, (low, high), fit.floor)
    return {
        trait: round(float(value), DIGITS) for trait, value in zip(BIG_FIVE, clipped, strict=True)
    }


def _keeping_own_share(s0: Any, low: Any, high: Any, share: float) -> tuple[Any, Any]:
    """The fluency box narrowed so that each vector the card sets keeps ``share`` of the
    card's strength on the card's side (never past the fluency bound itself)."""
    import numpy as np

    kept = share * s0
    return (
        np.where(s0 > 0, np.maximum(low, np.minimum(kept, high)), low),
        np.where(s0 < 0, np.minimum(high, np.maximum(kept, low)), high),
    )


def _constrained(
    m: Any, s0: Any, gram: Any, linear: Any, start: Any, box: tuple[Any, Any], floor: float
) -> Any:
    """The least-squares strengths within ``box`` and, with a ``floor``, under the floor
    constraint (module docstring), or ``start`` (the clipped plain solve) where the linear
    program or the optimiser fails."""
    import numpy as np
    from scipy.optimize import minimize

    own = np.abs(np.diag(m) * s0)
    rows = own > 0 if floor > 0 else np.zeros(len(s0), dtype=bool)
    constraints: list[dict[str, Any]] = []
    if rows.any():
        constraints = _floor_constraint(m, s0, own, rows, box, floor)
        if not constraints:
            return start
    result = minimize(
        lambda s: float(s @ gram @ s - 2 * linear @ s),
        x0=np.clip(start, box[0], box[1]),
        jac=lambda s: 2 * gram @ s - 2 * linear,
        bounds=list(zip(box[0], box[1], strict=True)),
        constraints=constraints,
        method="SLSQP",
        options={"ftol": 1e-10, "maxiter": 500},
    )
    return np.clip(result.x, box[0], box[1]) if result.success else start


def _floor_constraint(
    m: Any, s0: Any, own: Any, rows: Any, box: tuple[Any, Any], floor: float
) -> list[dict[str, Any]]:
    """SLSQP's form of the floor: each set trait keeps ``min(floor, t*)`` of its own effect
    (empty where the linear program for ``t*`` fails)."""
    import numpy as np
    from scipy.optimize import linprog

    signed = (np.sign(s0)[:, None] * m)[rows]  # row U: sign(s0_U) (M s)_U
    # t*: the largest share every set trait can keep at once within the bounds
    n = len(s0)
    best = linprog(
        c=np.r_[np.zeros(n), -1.0],
        A_ub=np.hstack([-signed / own[rows][:, None], np.ones((int(rows.sum()), 1))]),
        b_ub=np.zeros(int(rows.sum())),
        bounds=[*zip(box[0], box[1], strict=True), (None, None)],
    )
    if not best.success:
        return []
    # a hair under t* where t* binds, so that the constraint stays feasible numerically
    share = min(floor, float(best.x[-1]) - 1e-6)
    required = share * own[rows]
    return [{"type": "ineq", "fun": lambda s: signed @ s - required, "jac": lambda s: signed}]
