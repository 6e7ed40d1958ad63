"""Who is acting, and for whom; the permission checks every service starts with."""

from __future__ import annotations

from dataclasses import dataclass

from portal.domain.errors import Forbidden, NotFound
from portal.domain.status import Role
from portal.i18n import N_, _


@dataclass(frozen=True, slots=True)
class Actor:
    """The person behind a request: a user, and the client they act for (own or impersonated)."""

    user_id: int
    role: Role
    email: str
    name: str
    client_id: int | None = None
    impersonator_id: int | None = None
    impersonation_id: int | None = None
    locale: str = "en"

    @property
    def is_staff(self) -> bool:
        """Staff or admin, not impersonating anyone."""
        return self.role in (Role.staff, Role.admin) and self.impersonator_id is None

    @property
    def is_admin(self) -> bool:
        """An admin, not impersonating anyone."""
        return self.role == Role.admin and self.impersonator_id is None

    @property
    def is_impersonating(self) -> bool:
        """An admin seeing the portal as a client."""
        return self.impersonator_id is not None


def require_staff(actor: Actor) -> None:
    """Staff and admins only."""
    if not actor.is_staff:
        raise Forbidden(_("This part of the portal is for staff."))


def require_admin(actor: Actor) -> None:
    """Admins only."""
    if not actor.is_admin:
        raise Forbidden(_("Only an administrator can do this."))


def require_client(actor: Actor) -> int:
    """A client (or an admin impersonating one): return the client id the actor may see."""
    if actor.client_id is None:
        raise Forbidden(_("This page is for clients."))
    return actor.client_id


def check_client_access(actor: Actor, client_id: int | None, *, message: str = N_("Not found.")) -> None:
    """Staff see every client; a client sees only itself, and anything else is 'not found'.

    Pass the same `message` the caller gives for a missing record, so that another client's id and an id
    that does not exist are indistinguishable (it is shown in the current locale).
    """
    if actor.is_staff:
        return
    if actor.client_id is None or actor.client_id != client_id:
        raise NotFound(_(message))
