"""The names of the engine's timers (stable per user: scheduling one again replaces it)."""

HOLD_TIMER = "hold"  # a hold cue: halfway, then release
DAILY_TIMER = "daily"  # the next daily reminder
SNOOZE_TIMER = "snooze"  # a snoozed reminder
