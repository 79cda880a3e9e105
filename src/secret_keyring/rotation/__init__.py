"""Producing keyrings: key generation and the rotation handlers for AWS and Vault/OpenBao.

Nothing here imports Django; ``rotation.aws`` needs only boto3 and ``rotation.vault`` only hvac.
"""
