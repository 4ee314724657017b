"""The app's screens: picker, chat, help, error, and the message editor."""
