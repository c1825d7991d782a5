"""Telegram: python-telegram-bot's Application in, Bot API calls out (adapter.py), views as HTML (render.py)."""
