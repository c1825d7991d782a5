"""Runtime, storage and per-platform adapters around the dialog engine."""


class ConfigError(Exception):
    """Bad configuration found at start-up (token, database URL, time scale...).

    str() is one line that names the setting; the CLI prints it without a traceback and exits 2.
    """
