"""Clients: the console's client list and forms, one client's record, the client's dashboard and history."""
