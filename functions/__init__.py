"""Lambda entry points: one thin module per function (decorators, parse, one call, return)."""
