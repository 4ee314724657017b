"""Widgets of the TUI: messages, the chat log, the side panel, bars, the status line."""
