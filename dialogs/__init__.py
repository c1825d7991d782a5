"""The shared dialog engine: pure, synchronous, platform-neutral (no I/O, no clock)."""
