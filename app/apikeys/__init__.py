"""API keys: hashed bearer tokens with scopes, for the REST API."""
