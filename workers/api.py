"""What the worker side offers the web: the one module of `workers` that `gateway` imports.

Queueing a reply's send, the staff broadcast's drafts and its job, and draining the usage
stream before a report counts. The layering test (tests/test_layers.py) holds the web to it.
"""

from __future__ import annotations

from workers.broadcast import Draft, claim, count, enqueue, job_id, load, save_draft, unclaim
from workers.queues import SMS_QUEUE, enqueue_send, sms_queue
from workers.usage import drain_before_counting
from workers.voice_calls import queue_call_back

__all__ = [
    "SMS_QUEUE", "Draft", "claim", "count", "drain_before_counting", "enqueue", "enqueue_send",
    "job_id", "load", "queue_call_back", "save_draft", "sms_queue", "unclaim",
]
