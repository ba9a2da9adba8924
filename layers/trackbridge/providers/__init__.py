"""trackbridge.providers"""
