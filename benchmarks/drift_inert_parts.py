"""Which parts of chat's default can act in the drift runs? (issue 17's ablation)

The drift runs' ``memory`` condition is meant to be chat's default. Two parts of that default
are not switched on or off by the runs, and this shows they cannot act there:

- **The user profile** (facts the user states, ``roleplay.profile``) is not wired into the
  interview's pipeline. It would only matter if a scripted message stated a fact; this runs
  the profile's extraction over the script and counts the facts.
- **The memory share.** The prompt builder keeps recalled memories within
  ``memory_share`` (15 %) of the prompt's token budget. Whether that bound changes anything
  depends on how long the recalled memories can be: this counts, per frozen evaluation
  character, the most tokens its ``k`` longest possible memories (the card's seed memories
  and the script's user messages; for ``--remember exchange`` each message with a reply of
  the script's longest) can take, against the allowance at the drift runs' budget.

    python -m benchmarks.drift_inert_parts
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # runnable as a script as well as with -m
    sys.path.insert(0, str(ROOT))


def main() -> None:
    from roleplay.application import BackendOptions, load_engine
    from roleplay.cards.loader import load_card
    from roleplay.evaluation.characters import card_set_paths
    from roleplay.evaluation.drift import load_drift_script
    from roleplay.features import DEFAULT_RECALLED_MEMORIES
    from roleplay.memory.service import exchange_text
    from roleplay.profile.extraction import extract_statements
    from roleplay.prompting.builder import (
        DEFAULT_MEMORY_SHARE,
        MEMORY_OVERHEAD_TOKENS,
        PromptBuilder,
    )

    script = load_drift_script()
    facts = [statement for message in script.messages for statement in extract_statements(message)]
    print(
        f"user-profile facts stated in the {len(script.messages)} scripted messages: {len(facts)}"
    )
    engine = load_engine(BackendOptions(threads=1))
    budget = PromptBuilder(engine, reply_tokens=script.generation.max_new_tokens).token_budget
    allowance = int(DEFAULT_MEMORY_SHARE * budget)

    def cost(text: str) -> int:
        return int(engine.count_tokens(text)) + MEMORY_OVERHEAD_TOKENS

    longest_reply = script.generation.max_new_tokens  # tokens
    messages = [cost(message) for message in script.messages]
    k = DEFAULT_RECALLED_MEMORIES
    share = f"{DEFAULT_MEMORY_SHARE:.0%}"
    print(f"budget {budget} tokens, memory allowance {allowance} ({share}), k = {k}")
    print("character | k longest, user policy | k longest, exchange policy")
    worst_user = worst_exchange = 0
    for path in card_set_paths("evaluation"):
        card = load_card(path)
        seeds = [cost(memory.text) for memory in card.memories]
        user = sum(sorted(seeds + messages, reverse=True)[:k])
        exchanges = [
            cost(exchange_text(message, "", card.name)) + longest_reply
            for message in script.messages
        ]
        exchange = sum(sorted(seeds + exchanges, reverse=True)[:k])
        worst_user, worst_exchange = max(worst_user, user), max(worst_exchange, exchange)
        print(f"{card.name} | {user} | {exchange}")
    for policy, worst in (("user", worst_user), ("exchange", worst_exchange)):
        verdict = "can bind" if worst > allowance else "never binds"
        print(f"{policy} policy: at most {worst} of {allowance} tokens: the share {verdict}")


if __name__ == "__main__":
    main()
