"""paraphina: an event-sourced, deterministic replay engine for multi-venue market making."""

__version__ = "0.1.0"
