"""Browse's similar-images search as plain state: the images like the chosen ones, nearest first, and how the other
filters narrow them (:meth:`Similar.within`); a map selection is the same with no distances."""

from __future__ import annotations

from array import array
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.curation.similar import SimilarResult

SIMILAR_COUNT = 500  # images a search ranks; Browse's other filters (Unlabeled only) then narrow them
MAX_SIMILAR_QUERY = 1000


@dataclass(frozen=True)
class Similar:
    """The images like the chosen ones, nearest first, and their distances."""

    chosen: tuple[int, ...]
    order: tuple[int, ...]
    distance: dict[int, float]

    @classmethod
    def of(cls, chosen: list[int], result: SimilarResult) -> Similar:
        order = tuple(n.image_id for n in result.neighbours)
        return cls(tuple(chosen), order, {n.image_id: n.distance for n in result.neighbours})

    def within(self, ids: array) -> tuple[array, dict[int, str]]:
        """Those of the similar images among ``ids`` (what the other filters let through), nearest first, and
        the distance each caption starts with."""
        allowed = set(ids)
        kept = array("q", (i for i in self.order if i in allowed))
        return kept, {i: f"{self.distance[i]:.3f} · " for i in kept if i in self.distance}
