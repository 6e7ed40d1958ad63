"""The organization's settings (admin only): organization, billing and tax, invoice template, reminders,
email, the Stripe account.

Every change is checked in its use case (a page guard is a convenience), validated field by field, stored
in one transaction with its audit entry, and never puts a secret in the audit details.
"""
