"""What every paged console list shares: the page it returns, the bounds of the page asked for, one page of
a query, and the search on the client a document belongs to."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from tortoise.expressions import Q
from tortoise.models import Model
from tortoise.queryset import QuerySet

MAX_PAGE_SIZE = 100
R = TypeVar("R")
M = TypeVar("M", bound=Model)


@dataclass(frozen=True)
class Page(Generic[R]):
    """One page of a list: its rows, how many rows there are in all, the page number and its size."""

    rows: list[R]
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        """How many pages there are (at least one)."""
        return max(1, -(-self.total // self.page_size))


def bounds(page: int, page_size: int, most: int = MAX_PAGE_SIZE) -> tuple[int, int]:
    """The page number (at least 1) and page size (1 to `most`) a list is asked for."""
    return max(1, int(page)), min(max(1, int(page_size)), most)


async def fetch(query: QuerySet[M], page: int, page_size: int, *order: str) -> tuple[list[M], int]:
    """The rows of page `page` of `query` in `order`, and how many rows the query has in all."""
    total = await query.count()
    rows = await query.order_by(*order).offset((page - 1) * page_size).limit(page_size)
    return rows, total


def client_matches(term: str) -> Q:
    """The client of the row (invoice, quote, subscription...) has `term` in its name, company or email."""
    return (
        Q(client__name__icontains=term)
        | Q(client__company__icontains=term)
        | Q(client__email__icontains=term)
    )
