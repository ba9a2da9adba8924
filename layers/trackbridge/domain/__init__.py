"""trackbridge.domain"""
