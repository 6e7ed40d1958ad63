"""Billing Portal: a client billing portal for agencies and small service businesses."""
