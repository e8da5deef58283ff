"""Therapy-specific logic (pure): plans, monitoring and interpretation for drugs that need more than a screen."""
