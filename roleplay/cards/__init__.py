"""Character cards: the YAML model, loading with located errors, personality maths and the
registry of bundled and user cards."""

from roleplay.cards.loader import CardCheck, check_card, load_card
from roleplay.cards.model import (
    BIG_FIVE_TRAITS,
    EMOTIONS,
    BigFive,
    Card,
    CardMetadata,
    DialogueLine,
    Lorebook,
    LoreEntry,
    Personality,
    SeedMemory,
)
from roleplay.cards.registry import CardEntry, list_cards, resolve_card

__all__ = [
    "BIG_FIVE_TRAITS",
    "EMOTIONS",
    "BigFive",
    "Card",
    "CardCheck",
    "CardEntry",
    "CardMetadata",
    "DialogueLine",
    "LoreEntry",
    "Lorebook",
    "Personality",
    "SeedMemory",
    "check_card",
    "list_cards",
    "load_card",
    "resolve_card",
]
