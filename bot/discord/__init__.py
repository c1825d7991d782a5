"""Discord: discord.py slash commands and buttons in, interaction responses and DMs out (adapter.py)."""
