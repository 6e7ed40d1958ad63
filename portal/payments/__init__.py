"""Money in and out: online charges, settling, refunds, credit, the ledger, saved methods, payment links,
gateway events, reconciliation, billing and credit requests; `gateways/` holds the protocol, Stripe and the
sandbox."""
