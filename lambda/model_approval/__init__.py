"""The model approval function (handler.handler)."""
