"""Synthetic players: who plays which family, when they join and churn, how active they are, their sessions.

The model is small but shaped like real play (docs/requirements/README.md#families): players join over the period, play on a
fraction of days with a weekly rhythm (weekends busier), churn with a hazard that is highest in the first days,
and have heavy-tailed engagement (a log-normal intensity: most players play a little, a few play a lot).
Everything is drawn from ``random.Random`` streams seeded from ``(seed, purpose)``, so the same seed gives the
same players, days and sessions on every machine.
"""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from collections.abc import Iterator

FAMILIES = ("politics", "ability", "recsys", "gameplay", "learning")
"""Every family the generator knows, in the order files are written for a day."""

FAMILY_SHARE = {"politics": 0.7, "ability": 0.7, "recsys": 0.6, "gameplay": 0.7, "learning": 0.35}
"""Share of players who play each family."""

WEEKDAY_FACTOR = (0.85, 0.85, 0.9, 0.95, 1.05, 1.3, 1.25)
"""Activity multiplier per ISO weekday, Monday first (weekly seasonality)."""

HOUR_WEIGHTS = (2, 1, 1, 1, 1, 1, 2, 3, 4, 4, 4, 5, 6, 5, 5, 5, 6, 7, 9, 11, 12, 11, 8, 4)
"""Relative weight of each UTC hour as a session start (evening peak)."""

US_PER_DAY = 86_400_000_000
US_PER_SECOND = 1_000_000
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def derive_seed(*parts: object) -> int:
    """A 64-bit integer seed from ``parts`` (stable across processes and Python versions, unlike ``hash``)."""
    text = "|".join(str(p) for p in parts).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "big")


def day_start_us(day: date) -> int:
    """Epoch microseconds of ``day`` 00:00 UTC."""
    return (datetime(day.year, day.month, day.day, tzinfo=timezone.utc) - EPOCH) // timedelta(microseconds=1)


@dataclass(frozen=True)
class Player:
    """One synthetic player.

    Attributes:
        index: 0-based player number (ids in each family are derived from it).
        intensity: engagement multiplier, log-normal with median 1 (heavy right tail).
        p_active: probability of playing on a given (average-weekday) day before churning.
        join_day: first day (0-based) the player can play.
        churn_day: first day the player no longer plays (may be beyond the period).
        families: families the player plays.
        company: politics company number, or None for an independent.
        opted_out: the player asked to be left out of analytics (docs/requirements/gameplay.md#privacy); every event of theirs is
            dropped at ingest. Only set when faults are injected.
        is_abuser: bursts LOBBY_ATTEMPT above the per-user rate (docs/requirements/politics.md#anti-abuse).
        shard: home world shard (ability family).
        bucket: recsys experiment bucket.
    """

    index: int
    intensity: float
    p_active: float
    join_day: int
    churn_day: int
    families: frozenset[str]
    company: int | None
    opted_out: bool
    is_abuser: bool
    shard: str
    bucket: str

    def plays(self, family: str, day: int) -> bool:
        return family in self.families and self.join_day <= day < self.churn_day


class Population:
    """The players of one generated data set (built once, a few hundred bytes per player).

    Args:
        players: number of players (≥ 1).
        days: length of the period in days.
        seed: master seed.
        faults: when true, about 1 % of players (at least one) are opted out.
    """

    def __init__(self, players: int, days: int, seed: int, *, faults: bool = False):
        if players < 1 or days < 1:
            raise ValueError("players and days must be at least 1")
        self.seed = seed
        self.days = days
        rng = random.Random(derive_seed(seed, "population"))
        self.companies = max(1, players // 12)
        out: list[Player] = []
        for index in range(players):
            intensity = min(rng.lognormvariate(0.0, 0.75), 12.0)
            p_active = min(0.95, 0.25 + 0.5 * rng.random() + 0.05 * intensity)
            join_day = 0 if rng.random() < 0.6 else rng.randrange(days)
            hazard = 0.02 + 0.06 * rng.random()  # daily churn hazard
            churn_day = join_day + 1 + int(math.log(1.0 - rng.random()) / math.log(1.0 - hazard))
            families = frozenset(f for f in FAMILIES if rng.random() < FAMILY_SHARE[f]) or frozenset({FAMILIES[index % 5]})
            company = None if rng.random() < 0.1 else rng.randrange(self.companies)
            out.append(Player(index, intensity, p_active, join_day, churn_day, families, company,
                              opted_out=False, is_abuser=rng.random() < 0.02,
                              shard=f"world-{1 + rng.randrange(4)}", bucket=rng.choice(("control", "treatment"))))
        if faults:
            chosen = random.Random(derive_seed(seed, "opt-out")).sample(range(players), max(1, players // 100))
            for index in chosen:
                p = out[index]
                out[index] = Player(p.index, p.intensity, p.p_active, p.join_day, p.churn_day, p.families, p.company,
                                    True, p.is_abuser, p.shard, p.bucket)
        self.players = out

    def __len__(self) -> int:
        return len(self.players)

    def __iter__(self) -> Iterator[Player]:
        return iter(self.players)

    def active(self, family: str, day: int, weekday: int, rng: random.Random) -> Iterator[Player]:
        """Players of ``family`` who play on ``day`` (weekday 0 = Monday), in index order."""
        factor = WEEKDAY_FACTOR[weekday]
        for player in self.players:
            if player.plays(family, day) and rng.random() < min(0.98, player.p_active * factor):
                yield player


def session_starts(rng: random.Random, player: Player, day_us: int, mean_sessions: float = 1.3) -> list[int]:
    """Sorted session start times (epoch µs) of one player-day: 1 + Poisson(mean × intensity) sessions,
    start hours drawn from :data:`HOUR_WEIGHTS`."""
    count = 1 + poisson(rng, max(0.0, mean_sessions * min(player.intensity, 3.0) - 1.0))
    hours = rng.choices(range(24), weights=HOUR_WEIGHTS, k=count)
    return sorted(day_us + h * 3_600_000_000 + rng.randrange(3_600_000_000) for h in hours)


def poisson(rng: random.Random, mean: float) -> int:
    """Poisson draw (Knuth for small means, normal approximation above 30)."""
    if mean <= 0:
        return 0
    if mean > 30:
        return max(0, int(round(rng.gauss(mean, math.sqrt(mean)))))
    limit, k, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        k += 1
        product *= rng.random()
    return k


_DAY_TEXT: dict[int, str] = {}


def iso_ms(us: int) -> str:
    """``2024-11-24T10:15:00.250Z`` for epoch microseconds (millisecond precision, UTC)."""
    day, rest = divmod(us, US_PER_DAY)
    prefix = _DAY_TEXT.get(day)
    if prefix is None:
        prefix = _DAY_TEXT[day] = (date(1970, 1, 1) + timedelta(days=day)).isoformat()
    ms = rest // 1000
    hours, ms = divmod(ms, 3_600_000)
    minutes, ms = divmod(ms, 60_000)
    seconds, ms = divmod(ms, 1000)
    return f"{prefix}T{hours:02d}:{minutes:02d}:{seconds:02d}.{ms:03d}Z"
