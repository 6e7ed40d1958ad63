"""The words that confirm a client's decision on an estimate or proposal."""

from __future__ import annotations

from portal.billing import quotes
from portal.domain.status import local_label
from portal.i18n import _


def decision_notice(decided: quotes.QuoteView) -> str:
    """'Estimate E-3 approved.' / 'Proposal P-4 declined.' in the current locale."""
    if decided.status == "approved":
        return _("{document} approved.", document=decided.label)
    if decided.status == "declined":
        return _("{document} declined.", document=decided.label)
    return _("{document}: {status}.", document=decided.label, status=local_label(decided.status))
