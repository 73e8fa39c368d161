"""Repositories: the only modules that touch boto3."""
