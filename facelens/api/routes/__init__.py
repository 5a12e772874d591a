"""One router per area; `ALL` is what the app includes."""
