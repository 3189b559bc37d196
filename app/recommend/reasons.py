"""Why this track, in a line: the reason wording of a recommendation.

A reason reads "<who> → <what the track is> <what it is for> · <where it sits> [· notes]": who says
where the mood came from (never "you look sad" for a mood the listener picked), what is the
track's own mood words, where is its place relative to the target; the notes say what the
listener's own evidence did (a taste that moved the offer, a replay when everything near was
heard, a like). The track's words are read from the same tag its badge shows (``track_words``),
so a track badged tense never reads "gentle, dark".
"""

from __future__ import annotations

import math

from app.catalog import repository
from app.emotions import QUADRANT_NAMES, QUADRANT_VA, STRATEGIES, MoodPoint, target_for_strategy
from app.listening.mood import READING_SOURCES

AFFINITY_REASON = 0.25  # session preference above which the reason says so
REPLAY_NOTE = "heard earlier: everything new near your mood has been played"
# A taste note that already says the track is like what was liked (`app.listening.taste`): the
# reason doesn't say it twice.
TASTE_SAYS_LIKED = "you liked"
# A reason reads "<who> → <what the track is> <what it is for> · <where it sits> [· feedback]":
# who says where the mood came from (never "you look sad" for a mood the listener picked), what
# is the track's own mood words, where is its place relative to the target. The wording of the
# middle rotates with `variant` (its rank in the queue), so five reasons never read alike.

# Where the listener's mood came from, as `app.listening.mood.MoodReading.source` names it;
# None is the command line's "this emotion", described as before ("you look sad").
_READER = {"camera": "the camera", "snapshot": "your snapshot", "photo": "your photo"}
_FEEL_BY_LABEL = {
    "angry": "angry",
    "disgust": "disgusted",
    "fear": "afraid",
    "happy": "happy",
    "neutral": "neutral",
    "sad": "sad",
    "surprise": "surprised",
}
_FEEL_BY_QUADRANT = {"Q1": "upbeat", "Q2": "tense", "Q3": "low", "Q4": "relaxed"}

_WHAT = (
    "{a_energy} {energy}, {colour} track",
    "something {energy} and {colour}",
    "{a_colour} {colour}, {energy} song",
    "{energy}, {colour} music",
    "{a_energy} {energy} piece with a {colour} feel",
)
# What the track is for, per strategy. No phrase of one strategy appears in another's.
PURPOSES: dict[str, tuple[str, ...]] = {
    "match": (
        "that matches your mood",
        "in tune with how you feel",
        "that meets you where you are",
        "to keep you company",
        "that fits the moment",
    ),
    "lift": (
        "to lift you",
        "to brighten things up",
        "to raise your spirits",
        "for a lighter mood",
        "to nudge you upward",
    ),
    "calm": (
        "to calm you down",
        "to help you unwind",
        "to slow things down",
        "for a calmer moment",
        "to let you breathe",
    ),
}
# Within this distance of the target a track is "on target"; beyond it, the reason names the
# direction it leans (brighter, darker, livelier, gentler).
NEAR_TARGET = 0.12
# Beyond this distance in the plane a track is no longer "what you asked for", only the nearest
# the catalog has; the reason says so rather than over-promise.
FAR_FROM_TARGET = 0.75
REASON_SOURCES: tuple[str | None, ...] = (None, *READING_SOURCES)


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def track_words(valence: float, arousal: float, quadrant: str | None = None) -> tuple[str, str]:
    """(energy, colour) words for a track. With its tagged ``quadrant`` (the badge), the words
    keep to that quadrant's side of each axis: the model tags the quadrant and the point
    separately, and where they disagree the milder word of the badge's side is used (a track
    badged tense/angry at a low-arousal point reads "lively", never "gentle")."""
    if quadrant in QUADRANT_VA:
        side_v, side_a = QUADRANT_VA[quadrant]
        if (valence >= 0) != (side_v >= 0):
            valence = math.copysign(0.01, side_v)
        if (arousal >= 0) != (side_a >= 0):
            arousal = math.copysign(0.01, side_a)
    energy = "energetic" if arousal > 0.4 else "lively" if arousal >= 0 else "gentle" if arousal > -0.4 else "very calm"
    colour = "bright" if valence > 0.4 else "warm" if valence >= 0 else "wistful" if valence > -0.4 else "dark"
    return energy, colour


def describe_track_mood(valence: float, arousal: float, quadrant: str | None = None) -> str:
    return ", ".join(track_words(valence, arousal, quadrant))


def describe_listener(label: str | None, listener: MoodPoint, source: str | None = None) -> str:
    """Who the music is for, true to where the mood came from: "you picked sad", "you picked
    calm / tender" (a point on the pad), "the camera reads you as tense", "your photo reads you
    as happy"; without a source (the command line), "you look sad" / "you seem low"."""
    if source not in REASON_SOURCES:
        raise ValueError(f"unknown mood source {source!r}; expected one of {', '.join(map(str, REASON_SOURCES))}")
    if source == "manual":
        return f"you picked {label or QUADRANT_NAMES[listener.quadrant]}"
    feel = _FEEL_BY_LABEL.get(label, label) if label else _FEEL_BY_QUADRANT[listener.quadrant]
    if source is not None:
        return f"{_READER[source]} reads you as {feel}"
    return f"you look {feel}" if label else f"you seem {feel}"


def describe_place(valence: float, arousal: float, target: MoodPoint, strategy: str) -> str:
    """Where the track sits relative to the target: on it, or the way it leans."""
    dv, da = valence - target.valence, arousal - target.arousal
    if math.hypot(dv, da) <= NEAR_TARGET:
        return "right on your mood" if strategy == "match" else "right on target"
    if abs(dv) >= abs(da):
        return "a step brighter" if dv > 0 else "a shade darker"
    return "a little livelier" if da > 0 else "a gentler one"


def reason_for(
    label: str | None,
    listener: MoodPoint,
    strategy: str,
    valence: float,
    arousal: float,
    *,
    feedback: repository.Feedback,
    target: MoodPoint | None = None,
    source: str | None = None,
    variant: int = 0,
    session_affinity: float = 0.0,
    evidence: str | None = None,
    quadrant: str | None = None,
    liked_any: bool = True,
    taste_note: str | None = None,
    replay: bool = False,
) -> str:
    """Why this track, in a line. `label`/`listener`: the listener's top face label (None for a
    bare point) and point; `source`: where that mood came from (see `describe_listener`);
    `valence`/`arousal`: the track's; `target`: the strategy's target (derived when None);
    `variant`: rotates the wording (the track's rank), deterministically; `session_affinity`:
    this session's preference for the track (`SessionPreference.score`); `evidence`: what mood
    responses say about it (`app.listening.response.reason_words`); `quadrant`: the track's
    tagged quadrant, the badge its words keep to (`track_words`); `liked_any`: whether the
    session liked anything (else a positive preference came from tracks played through, and
    the reason says that, not "liked"); `taste_note`: what the listener's taste did to the offer
    (`app.listening.taste.Aim.note`); `replay`: the track was heard earlier in the session and
    comes back because nothing new is near (the reason says so)."""
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; expected one of {', '.join(STRATEGIES)}")
    target = target or target_for_strategy(listener, strategy)
    who = describe_listener(label, listener, source)
    energy, colour = track_words(valence, arousal, quadrant)
    if math.hypot(valence - target.valence, arousal - target.arousal) > FAR_FROM_TARGET:
        wanted = describe_track_mood(target.valence, target.arousal)
        text = f"{who} → {_article(energy)} {energy}, {colour} track, the nearest the catalog has to {wanted}"
    else:
        # Different strides through the two lists, so neighbours differ in both parts.
        what = _WHAT[(variant * 2) % len(_WHAT)].format(
            energy=energy, colour=colour, a_energy=_article(energy), a_colour=_article(colour)
        )
        purposes = PURPOSES[strategy]
        purpose = purposes[variant % len(purposes)]
        text = f"{who} → {what} {purpose} · {describe_place(valence, arousal, target, strategy)}"
    if replay:
        text += f" · {REPLAY_NOTE}"
    if taste_note:
        text += f" · {taste_note}"
    if evidence:
        text += f" · {evidence}"
    if session_affinity >= AFFINITY_REASON and not (taste_note and TASTE_SAYS_LIKED in taste_note):
        text += " · like what you liked this session" if liked_any else " · like what you played through"
    elif not evidence and feedback.likes >= 2 and feedback.approval >= 0.6:
        text += " · liked by other listeners"
    return text
