"""Subscriptions: the plans staff sell and the subscriptions clients hold."""
