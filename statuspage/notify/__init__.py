"""Notifications: the outbox, its delivery, subscriptions, and one module per channel kind."""
