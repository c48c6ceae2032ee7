"""The states a send, a batch and a draft go through, named once: the code and the store's SQL use these
names (SQL as parameters), never the strings (checked by tests/test_boundaries.py)."""

# A send's states, and a batch's (see the design notes).
SEND_OPEN, SEND_DONE = "open", "done"
PENDING, SENDING, QUEUED, FAILED, UNKNOWN, EXPIRED = "pending", "sending", "queued", "failed", "unknown", "expired"
FINAL_BATCH_STATES = (QUEUED, FAILED, UNKNOWN, EXPIRED)  # a batch in one of these has its outcome
# A draft's: being checked, ready to confirm, checked with problems, confirmed (it lives on as its send).
DRAFT_CHECKING, DRAFT_READY, DRAFT_PROBLEMS, DRAFT_SENT = "checking", "ready", "problems", "sent"
