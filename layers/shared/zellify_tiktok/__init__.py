"""zellify_tiktok: funnel events to TikTok's Pixel and Events API with one event_id.

The shared Lambda layer's domain package: event taxonomy, validation, hashing, payload
building, the TikTok client, repositories (the only modules that touch boto3) and the
services the thin handlers call.
"""
