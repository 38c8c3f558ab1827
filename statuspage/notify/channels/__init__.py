"""Channel kinds: one module each (log, webhook, apprise, email), a registry keyed by kind."""
