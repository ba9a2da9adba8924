"""trackbridge.runtime"""
