"""Accounts: sign-in and sessions, passwords, invitations, viewing the portal as a client."""
