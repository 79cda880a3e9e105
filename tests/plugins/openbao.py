"""OpenBao dev-server fixtures (filled in with the Vault provider)."""
