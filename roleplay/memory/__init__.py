"""Emotion-aware long-term memory on ChromaDB (mood-dependent recall).

Public API::

    from roleplay.memory import CharacterMemory
    memory = CharacterMemory(card)                 # or chroma_url="http://127.0.0.1:8000"
    memory.ensure_seed_memories()
    memories = memory.recall("the lighthouse", recent_user_turns=[...], k=3)
    memory.remember_exchange(user_text, reply_text, session_id, turn_index)

Importing this package is cheap: chromadb, torch and transformers load on first use.
See docs/memory.md.
"""

from roleplay.memory.records import MemoryRecord, RecalledMemory
from roleplay.memory.scoring import EmotionScorer, EmotionScores, default_emotion_scorer
from roleplay.memory.service import CharacterMemory
from roleplay.memory.strategies import STRATEGY_NAMES, StrategyWeights

__all__ = [
    "STRATEGY_NAMES",
    "CharacterMemory",
    "EmotionScorer",
    "EmotionScores",
    "MemoryRecord",
    "RecalledMemory",
    "StrategyWeights",
    "default_emotion_scorer",
]
