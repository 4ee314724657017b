"""Which parts of chat's default can act in the drift runs? (issue 17's ablation)

The drift runs' ``memory`` condition is meant to be chat's default. Two parts of that default
are not switched on or off by the runs, and this shows they cannot act there:

- **The user profile** (facts the user states, ``roleplay.profile``) is not wired into the
  interview's pipeline. It would only matter if a scripted message stated a fact; this runs
  the profile's extraction over the script and counts the facts.
- **The memory share.** The prompt builder keeps recalled memories within
  ``memory_share`` (15 %) of the prompt's token budget. Whether that bound changes anything
  depends on how long the recalled memories can be: this counts, per frozen evaluation
  character, the most tokens its longest possible recalled memories can take, against the
  allowance at the drift runs' budget: one pool of 3 (chat's default: card memories and
  the script's messages as the ``statements`` policy keeps them; ``--remember user``: the
  whole messages; ``--remember exchange``: each message with a reply of the script's
  longest) and ``--memory-pools`` (the 3 longest card memories and, apart, the 2 longest
  statements).

It also shows what memory puts in the interview's prompts after the script: for each memory
variant, the memories the likelihood interview's request recalls once the 20 scripted
messages are stored (a scratch store per character, the last scripted messages as the mood,
as in the interview), counted over the evaluation characters.

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
    from roleplay.evaluation.questionnaire import load_interview_settings
    from roleplay.features import DEFAULT_RECALLED_MEMORIES, DEFAULT_RECALLED_USER_MEMORIES
    from roleplay.memory.service import exchange_text
    from roleplay.memory.speech_acts import statements_and_actions
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
    kept = [statements_and_actions(message) for message in script.messages]
    statements = [cost(text) for text in kept if text]
    k, user_k = DEFAULT_RECALLED_MEMORIES, DEFAULT_RECALLED_USER_MEMORIES
    share = f"{DEFAULT_MEMORY_SHARE:.0%}"
    print(f"budget {budget} tokens, memory allowance {allowance} ({share})")
    print(
        f"character | one pool of {k}, statements (chat's default) | {k} card + {user_k} "
        "statements (--memory-pools) | one pool, user policy | one pool, exchange policy"
    )
    worst = {
        "statements, one pool": 0,
        "statements, memory pools": 0,
        "user, one pool": 0,
        "exchange, one pool": 0,
    }
    for path in card_set_paths("evaluation"):
        card = load_card(path)
        seeds = [cost(memory.text) for memory in card.memories]
        default = sum(sorted(seeds + statements, reverse=True)[:k])
        pools = sum(sorted(seeds, reverse=True)[:k]) + sum(
            sorted(statements, reverse=True)[:user_k]
        )
        user = sum(sorted(seeds + messages, reverse=True)[:k])
        exchanges = [
            cost(exchange_text(message, "", card.name)) + longest_reply
            for message in script.messages
        ]
        exchange = sum(sorted(seeds + exchanges, reverse=True)[:k])
        for name, tokens in zip(worst, (default, pools, user, exchange), strict=True):
            worst[name] = max(worst[name], tokens)
        print(f"{card.name} | {default} | {pools} | {user} | {exchange}")
    for name, tokens in worst.items():
        verdict = "can bind" if tokens > allowance else "never binds"
        print(f"{name}: at most {tokens} of {allowance} tokens: the share {verdict}")
    recalled_after_script(list(script.messages), load_interview_settings().likelihood.request)


def recalled_after_script(messages: list[str], request: str) -> None:
    """Per memory variant: what the request recalls after the script, over the characters."""
    import collections
    import tempfile
    from dataclasses import replace

    from roleplay.cards.loader import load_card
    from roleplay.evaluation.characters import card_set_paths
    from roleplay.features import (
        DEFAULT_RECALLED_MEMORIES,
        DEFAULT_RECALLED_USER_MEMORIES,
        ChatMemory,
    )
    from roleplay.memory import CharacterMemory
    from roleplay.memory.chroma_client import forget_client
    from roleplay.memory.settings import RememberSettings, default_settings

    variants = [
        ("user, one pool", "user", None),
        ("statements, one pool (chat's default)", "statements", None),
        ("statements, memory pools", "statements", DEFAULT_RECALLED_USER_MEMORIES),
    ]
    paths = card_set_paths("evaluation")
    mood = [*messages[-3:], request]
    print(f"\nrecalled for {request!r} after the {len(messages)} scripted messages:")
    for label, policy, user_k in variants:
        said: collections.Counter[str] = collections.Counter()
        card_memories = 0
        settings = replace(default_settings(), remember=RememberSettings(policy=policy))
        for path in paths:
            with tempfile.TemporaryDirectory() as folder:
                memory = CharacterMemory(load_card(path), folder=Path(folder), settings=settings)
                memory.ensure_seed_memories()
                for turn, message in enumerate(messages):
                    memory.remember_exchange(message, "(reply)", "drift", turn)
                port = ChatMemory(memory, k=DEFAULT_RECALLED_MEMORIES, user_k=user_k)
                snippets, _ = port.recall_for_turn(request, mood)
                for snippet in snippets:
                    if snippet.kind == "user_said":
                        said[snippet.text] += 1
                    else:
                        card_memories += 1
                forget_client(Path(folder))
        print(f"{label}: {card_memories} card memories over {len(paths)} characters; said:")
        for text, count in said.most_common():
            print(f"  {count} x {text}")


if __name__ == "__main__":
    main()
