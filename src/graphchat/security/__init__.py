"""API keys, the resolution of a presented credential to an owner, and rate limits.

Nothing here knows about HTTP: `api/auth.py` and `api/ratelimit.py` adapt these to requests.
"""
