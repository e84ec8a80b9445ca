"""Entropy and character-mix measures: one signal among several, never a verdict on its own."""

from __future__ import annotations

import math
import re
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


# The letter pairs most frequent in English text and in identifiers made of English words. A
# value whose letter pairs are mostly among them reads as words ("spring-boot-demo", "allow");
# generated strings ("dkbgqyzwe", "ufnlbbavawsdeecn") score far lower.
_BIGRAM_TABLE = """
th he in er an re on at en nd ti es or te of ed is it al ar st to nt ng se ha as ou io le ve co me de hi ri ro ic
ne ea ra ce li ch ll be ma si om ur ca el ta la ns di fo ho pe ec pr no ct us ac ot il tr ly nc et ut ss so rs un
lo wa ge ie wh ee wi em ad ol rt po we na ul ni ts mo ow pa im mi ai sh ir su id os iv ia am fi ci vi pl ig tu ev
ld ry mp fe bl ab gh ty op wo sa ay ex ke fr oo av ag if ap gr od bo sp rd do uc bu ei ov by rm ep tt oc fa ef cu
rn sc gi da yo cr cl du ga qu ue ff ba ey ls va um pp ua up lu go ht ru ug ds lt pi rc rr eg au ck ew mu br bi pt
ak pu ui rg ib tl ny ki rk ys ob mm fu ph og ms ye ud mb ip ub oi rl gu dr hr cc tw ft wn nu
"""
_COMMON_BIGRAMS = frozenset(_BIGRAM_TABLE.split())


# Words inside a value: "Prefix" and "Length" in ipv4PrefixLength, "MONGODB"; case changes
# elsewhere ("FUPHn") split generated strings into short pieces.
_HUMP = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])")


def _letter_pairs(value: str) -> tuple[int, int]:
    """(common pairs, all pairs) of adjacent letters within the words (camel humps) of a value."""
    common = total = 0
    for hump in _HUMP.findall(value):
        run = hump.lower()
        for i in range(len(run) - 1):
            total += 1
            common += run[i:i + 2] in _COMMON_BIGRAMS
    return common, total


def word_score(value: str) -> float:
    """The share of adjacent letter pairs (within runs of letters) that are common in English."""
    common, total = _letter_pairs(value)
    return common / total if total else 0.0


def wordlike(value: str, threshold: float = 0.75) -> bool:
    """Reads as words or an identifier made of words, not as generated characters: mostly runs
    of letters (digits and symbols sprinkled through a value cut it into short runs, as in
    generated tokens), whose letter pairs are mostly common in English."""
    common, total = _letter_pairs(value)
    if total < 2 or total < 0.6 * (len(value) - 1):
        return False
    return common >= threshold * total
