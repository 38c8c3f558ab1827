"""Inputs from outside: the agent API. Handlers authenticate, validate and store facts."""
