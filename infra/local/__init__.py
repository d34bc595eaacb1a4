"""The local platform: every component is a real process on loopback."""
