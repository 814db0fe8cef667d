"""Who takes part in which exercise, as TAXII's access decision needs it (policy.collection_access
reads the answer; it does not query)."""
from __future__ import annotations

from sqlalchemy import ColumnElement, select

from ..database import DbSession
from ..models import Collection, Exercise, ExerciseParticipant


def participates_in_collection(session: DbSession, collection_id: str, org_id: int | None) -> bool:
    """Whether ``org_id`` takes part in the exercise whose collection this is (one indexed read)."""
    if org_id is None:
        return False
    return session.execute(
        select(ExerciseParticipant.org_id)
        .join(Exercise, Exercise.id == ExerciseParticipant.exercise_id)
        .where(Exercise.collection_id == collection_id, ExerciseParticipant.org_id == org_id)
        .limit(1)).first() is not None


def collections_of_participant(session: DbSession, org_id: int | None) -> set[str]:
    """The collection ids of every exercise ``org_id`` takes part in."""
    if org_id is None:
        return set()
    found = session.execute(
        select(Exercise.collection_id)
        .join(ExerciseParticipant, ExerciseParticipant.exercise_id == Exercise.id)
        .where(ExerciseParticipant.org_id == org_id, Exercise.collection_id.is_not(None))).scalars()
    return {collection_id for collection_id in found if collection_id is not None}


def outside_exercises(collection_id_column) -> ColumnElement[bool]:
    """A condition on a ``collection_id`` column: not an exercise's collection. Every figure that
    counts TAXII polls (metrics, the operations page, monitoring) keeps drills out with it."""
    return collection_id_column.not_in(select(Collection.id).where(Collection.kind == "exercise"))
