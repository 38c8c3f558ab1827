"""What the agent and the collector both import: wire schema, check definitions, time helpers."""
