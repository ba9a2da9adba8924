"""trackbridge.storage"""
