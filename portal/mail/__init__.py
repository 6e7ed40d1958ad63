"""Mail: SMTP sending (aiosmtplib), templates, the outbox worker."""
