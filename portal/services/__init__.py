"""Use cases: async, keyword-only functions, one transaction each, permission checks inside."""
