"""moto server-mode fixtures (filled in with the AWS provider)."""
