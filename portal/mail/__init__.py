"""Mail: the emails the portal sends (`*_emails.py`, built with `compose.py`), SMTP sending (aiosmtplib),
templates, the outbox worker."""
