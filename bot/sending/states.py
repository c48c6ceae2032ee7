"""The states a send, a batch and a draft go through, named once: the code and the store's SQL use these
names (SQL as parameters), never the strings (checked by tests/test_boundaries.py)."""

# A send's states, and a batch's (see the design notes). A scheduled send's batches wait as pending until it
# is due and opens; a cancelled one's become cancelled, with no outcome for their numbers (nothing was sent).
SEND_SCHEDULED, SEND_OPEN, SEND_DONE, SEND_CANCELLED = "scheduled", "open", "done", "cancelled"
PENDING, SENDING, QUEUED, FAILED, UNKNOWN, EXPIRED = "pending", "sending", "queued", "failed", "unknown", "expired"
CANCELLED = "cancelled"  # a batch of a cancelled scheduled send
FINAL_BATCH_STATES = (QUEUED, FAILED, UNKNOWN, EXPIRED)  # a batch in one of these has its outcome
# A draft's: being checked, ready to confirm, checked with problems, confirmed (it lives on as its send).
DRAFT_CHECKING, DRAFT_READY, DRAFT_PROBLEMS, DRAFT_SENT = "checking", "ready", "problems", "sent"
# An approval request's: waiting for an approver, then one of the decisions (each final).
APPROVAL_WAITING, APPROVAL_APPROVED, APPROVAL_REJECTED = "waiting", "approved", "rejected"
APPROVAL_EXPIRED, APPROVAL_WITHDRAWN, APPROVAL_REFUSED = "expired", "withdrawn", "refused"  # refused: revoked meanwhile
# A Workflow Builder step's: its form being checked, its review waiting in the channel, its send under way (or
# waiting for an approver), then finished with an outcome (or a failure the workflow is told of).
STEP_CHECKING, STEP_REVIEWING, STEP_SENDING, STEP_FINISHED = "checking", "reviewing", "sending", "finished"
# What a finished step tells the workflow (its ``outcome`` output); a step that failed has none, only its error.
STEP_SENT, STEP_CANCELLED, STEP_REFUSED, STEP_FAILED = "sent", "cancelled", "refused", "failed"
