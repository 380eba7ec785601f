"""Event definitions for replays: one TOML file per date (docs/replay.md gives the format).

Each file states the documented inputs of a replay (news time, open-interest level, initial sell
impulse) and the reported figures it is checked against, every one with its source URL.
"""
