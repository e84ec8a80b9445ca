"""Entropy and character-mix measures: one signal among several, never a verdict on its own."""

from __future__ import annotations

import math
from collections import Counter


def shannon_entropy(value: str) -> float:
    """Bits per character of ``value``'s character distribution."""
    if not value:
        return 0.0
    length = len(value)
    return -sum(n / length * math.log2(n / length) for n in Counter(value).values())


def char_classes(value: str) -> int:
    """How many of lower, upper, digit and symbol the value mixes."""
    lower = upper = digit = other = 0
    for c in value:
        if c.islower():
            lower = 1
        elif c.isupper():
            upper = 1
        elif c.isdigit():
            digit = 1
        else:
            other = 1
    return lower + upper + digit + other


def looks_random(value: str) -> bool:
    """Generated, not typed: mixes character classes with enough entropy for its length."""
    length = len(value)
    if length < 8:
        return False
    classes = char_classes(value)
    entropy = shannon_entropy(value)
    if classes >= 3:
        return entropy >= 2.8
    if classes == 2:
        return entropy >= 3.2 and length >= 12
    return length >= 20 and entropy >= 3.5
