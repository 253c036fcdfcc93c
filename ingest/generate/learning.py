"""Learning-game events (docs/requirements/learning.md): missions, tasks, behavioral, focus and social events, mostly in batches.

Play model: a session is one mission: ``mission_start``, then 2–6 tasks (``task_start``, choices, mistakes,
failures followed by a ``retry`` / ``restart`` and often ``recovery`` / ``success_after_failure``, distractions
and pauses, collaboration, help, leadership, initiative, decisions; most tasks end in ``task_complete``), then
``mission_complete`` when the mission was finished. 70 % of sessions are sent as one batch envelope
``{batch_id, client_version, schema_version, events}`` (docs/requirements/learning.md#batch; ``schema_version`` and
``client_version`` are inherited by the events, which leave them out); the rest as single-event lines. Every event
carries an ``event_id``. Extra fault: ``batch_too_large`` (a batch of 1001 events, rejected whole as one record).
"""

from __future__ import annotations

import random
from datetime import date
from typing import Any
from collections.abc import Iterator

from .base import Emitted, EmittedBatch, FamilyGenerator
from .players import Player, Population, US_PER_DAY, day_start_us, iso_ms, poisson, session_starts

FAMILY = "learning"
GAME_VERSION = "1.0.0"
CLIENT_VERSION = "2.3.1"
MISSIONS = ("alpha", "beta", "gamma", "delta", "epsilon")
SECOND_MS = 1000


class Generator(FamilyGenerator):
    """Learning family generator (see module docstring)."""

    name = FAMILY
    extra_faults = {"batch_too_large": "batch_too_large"}

    def __init__(self, population: Population, seed: int):
        super().__init__(population, seed)
        self._ids = [f"student-{p.index}" for p in population]
        self._sequence = [0] * len(population)

    def player_id(self, player: Player) -> str:
        return self._ids[player.index]

    def _event(self, kind: str, player: Player, at_ms: int, session: str, mission: str, task: str | None = None,
               **data: Any) -> Emitted:
        index = player.index
        sequence = self._sequence[index]
        self._sequence[index] = sequence + 1
        event: dict[str, Any] = {"event_id": f"le-{self.seed}-{index}-{sequence}", "student_id": self._ids[index],
                                 "event_type": kind, "schema_version": "1.0", "timestamp": iso_ms(at_ms * 1000),
                                 "session_id": session, "mission_id": f"mission-{mission}", "sequence": sequence,
                                 "game_version": GAME_VERSION}
        if task is not None:
            event["task_id"] = task
        if data:
            event["data"] = data
        return Emitted(event, self._ids[index], f"learning_{kind}", at_ms * 1000)

    def session(self, rng: random.Random, player: Player, start_ms: int, end_ms: int, session: str) -> list[Emitted]:
        """Events of one mission session from ``start_ms`` (stops before ``end_ms``)."""
        skill = min(0.95, 0.45 + 0.1 * player.intensity)
        focus = 0.15 + 0.2 * rng.random()
        mission = rng.choice(MISSIONS)
        out = [self._event("mission_start", player, start_ms, session, mission, name=mission,
                           difficulty=rng.choice(("easy", "medium", "hard")))]
        t = start_ms
        finished = True
        for n in range(rng.randint(2, 6)):
            task = f"{mission}-task-{n + 1}"
            t += rng.randint(2, 30) * SECOND_MS
            if t >= end_ms - 600_000:
                finished = False
                break
            out.append(self._event("task_start", player, t, session, mission, task, expected_seconds=120))
            failed = False
            for _ in range(1 + poisson(rng, 3.0)):
                t += rng.randint(3, 40) * SECOND_MS
                roll = rng.random()
                if roll < focus * 0.5:
                    out.append(self._event(rng.choice(("distraction", "pause")), player, t, session, mission, task))
                elif roll < 0.35:
                    choice = rng.choice(("help_friend", "explore", "go_alone", "ask_mentor"))
                    out.append(self._event(rng.choice(("choice_made", "decision_made")), player, t, session, mission,
                                           task, choice=choice))
                elif roll < 0.35 + (1 - skill) * 0.5:
                    out.append(self._event("mistake", player, t, session, mission, task))
                    if rng.random() < 0.4:
                        t += rng.randint(1, 10) * SECOND_MS
                        failed = True
                        out.append(self._event("failure", player, t, session, mission, task))
                        t += rng.randint(1, 10) * SECOND_MS
                        out.append(self._event(rng.choice(("retry", "retry", "restart")), player, t, session, mission, task))
                        if rng.random() < skill:
                            t += rng.randint(5, 30) * SECOND_MS
                            out.append(self._event("recovery", player, t, session, mission, task))
                else:
                    kind = rng.choice(("collaboration", "help_given", "help_received", "leadership", "initiative"))
                    out.append(self._event(kind, player, t, session, mission, task))
            t += rng.randint(5, 60) * SECOND_MS
            if rng.random() < skill:
                if failed:
                    out.append(self._event("success_after_failure", player, t, session, mission, task))
                    t += 500
                out.append(self._event("task_complete", player, t, session, mission, task,
                                       duration_seconds=rng.randint(30, 400)))
            else:
                finished = False
        if finished:
            t += rng.randint(2, 20) * SECOND_MS
            out.append(self._event("mission_complete", player, t, session, mission, score=rng.randint(40, 100)))
        return out

    def day_events(self, day_index: int, day: date, rng: random.Random) -> Iterator[Emitted | EmittedBatch]:
        day_ms = day_start_us(day) // 1000
        end_ms = day_ms + US_PER_DAY // 1000
        for player in self.population.active(FAMILY, day_index, day.weekday(), rng):
            t = day_ms
            for n, start in enumerate(session_starts(rng, player, day_ms * 1000, mean_sessions=0.8)):
                t = max(t + SECOND_MS, start // 1000)
                if t >= end_ms - 900_000:
                    break
                session = f"ls-{player.index}-{day_index}-{n}"
                events = self.session(rng, player, t, end_ms, session)
                t = events[-1].occurred_us // 1000 + SECOND_MS
                if rng.random() < 0.7:
                    yield EmittedBatch({"batch_id": f"b-{self.seed}-{session}", "client_version": CLIENT_VERSION,
                                        "schema_version": "1.0"}, events, inherited=("schema_version",))
                else:
                    yield from events

    # --- fault hooks ------------------------------------------------------------------------------------------
    def base_event(self, rng: random.Random, player: Player, at_us: int) -> dict[str, Any]:
        return {"event_id": f"le-fault-{self.seed}-{player.index}-{at_us}", "student_id": self._ids[player.index],
                "event_type": "pause", "schema_version": "1.0", "timestamp": iso_ms(at_us),
                "session_id": f"ls-fault-{player.index}"}

    def with_time(self, event: dict[str, Any], at_us: int) -> dict[str, Any]:
        return {**event, "timestamp": iso_ms(at_us)}

    def with_bad_version(self, event: dict[str, Any]) -> dict[str, Any]:
        return {**event, "schema_version": "9.0"}

    def with_unknown_type(self, event: dict[str, Any]) -> dict[str, Any]:
        return {**event, "event_type": "daydream"}

    def extra_fault(self, kind: str, rng: random.Random, event: dict[str, Any]) -> dict[str, Any]:
        if kind == "batch_too_large":
            return {"batch_id": f"b-too-large-{event['event_id']}", "client_version": CLIENT_VERSION,
                    "events": [{**event, "event_id": f"{event['event_id']}-{i}"} for i in range(1001)]}
        raise KeyError(kind)

