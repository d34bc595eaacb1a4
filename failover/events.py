"""A controller event as it crosses the wire: one schema for its writer and its readers.

The controller's records store (:mod:`failover.controller.records`) builds every event
it stores and lists as an :class:`Event`; ``GET /v1/events`` answers an
:class:`EventPage` (its OpenAPI response model); the drills (:mod:`drills.controller`)
read that answer back with :func:`read_page`. A field renamed here is renamed for all of
them at once, and the tests that feed the controller's real output to the drills' parser
say whether they still agree.

The wire shape (JSON), oldest event first::

    {"controller": site,
     "events": [{"id", "at", "controller", "kind", "unit", "site", "summary", "data"}]}

Each field's meaning is its ``description`` below (also in the API's OpenAPI schema).
Of ``data``, the kind's own fields (docs/controller.md §11), one is part of this
contract: ``epoch``, read through :attr:`Event.epoch`. Readers ignore fields they do not
know, so a controller may add one without breaking an older drill; it may not drop or
retype one.

Pure: pydantic and the standard library only (no database, no HTTP).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, JsonValue, field_validator

#: The kinds other programs act on (drills: detection time, promotions per unit).
SITE_DOWN = "site_down"
PROMOTED = "promoted"
#: A running drill's own step, recorded for the consoles; the drills skip it when they
#: read events back (it is what they did, not what the controllers saw).
DRILL_NOTE = "drill_note"

# Strict: a number sent as a string, or an epoch sent as anything but an integer, is a
# writer that drifted from this schema, and must fail where it is read, not read as None.
_WIRE = ConfigDict(frozen=True, strict=True, extra="ignore")


class Event(BaseModel):
    """One event of a controller's records store, as stored, listed and read back."""

    model_config = _WIRE

    id: int = Field(ge=1, description="rises with every event of one records store")
    at: float = Field(allow_inf_nan=False, description="when it was recorded, Unix seconds")
    controller: str = Field(description="site of the controller that recorded it")
    kind: str = Field(min_length=1, description="what happened: site_down, promoted, …")
    unit: str | None = Field(description="the unit it is about, null if none")
    site: str | None = Field(description="the site it is about, null if none")
    summary: str = Field(description="the sentence for people")
    data: dict[str, JsonValue] = Field(
        description="the kind's own fields; epoch, when present, is an integer: the epoch "
        "of the unit it is about (promoting and promoted carry the new one)"
    )

    @field_validator("data")
    @classmethod
    def _epoch_is_an_integer(cls, data: dict[str, JsonValue]) -> dict[str, JsonValue]:
        epoch = data.get("epoch")
        if "epoch" in data and (type(epoch) is not int or epoch < 0):
            raise ValueError(f"data.epoch must be an integer ≥ 0, not {epoch!r}")
        return data

    @property
    def epoch(self) -> int | None:
        """The epoch of ``unit`` this event is about, or None when it names none."""
        epoch = self.data.get("epoch")
        return epoch if isinstance(epoch, int) else None

    def to_wire(self) -> dict[str, JsonValue]:
        """The JSON object of this event (what ``/v1/events`` lists)."""
        return self.model_dump(mode="json")


class EventPage(BaseModel):
    """One answer of ``GET /v1/events``: the answering controller and its events."""

    model_config = _WIRE

    controller: str = Field(description="site of the controller that answered")
    events: list[Event] = Field(description="its events after id `since`, oldest first")

    def to_wire(self) -> dict[str, JsonValue]:
        """The JSON object of this page, as the API serialises it."""
        return self.model_dump(mode="json")


def read_page(payload: object) -> EventPage:
    """An answer of ``GET /v1/events`` (decoded JSON) as an :class:`EventPage`.

    Raises :class:`ValueError` (a pydantic ``ValidationError``) when it does not have
    the shape above: an answer this schema cannot read is a writer that drifted.
    """
    return EventPage.model_validate(payload)
