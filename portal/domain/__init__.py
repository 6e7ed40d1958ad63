"""Pure domain logic: money, tax, allocation, statuses, tokens. No I/O here."""
