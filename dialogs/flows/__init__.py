"""The conversation's flows: each a small unit with its own handlers, dispatched to by dialogs.engine.

A flow changes the state in a Turn and names screens and lines; it never imports another flow or the
engine. When another flow must take over, it returns a `Next` (dialogs.turn) for the engine to resolve.
"""
