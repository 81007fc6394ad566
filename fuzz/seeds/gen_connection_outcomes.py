#!/usr/bin/env python3
"""Writes the hand-made scripts of corpus/connection_outcomes/ (run from fuzz/).

Byte 0 holds flags (bit 0: no reconnect, bit 1: no keep-alive); then (op, arg) pairs, see
core/src/internal/outcomes.rs: 0 ping, 1 live, 2 LIVE SELECT, 3 unsubscribe, 4 garbage
(arg % 48 bytes follow), 5 answer a wire id (a result-kind byte follows), 6 advance time,
7 disconnect, 8 connected, 9 connect failed, 10 notification, 11 id-less error,
12 session/transaction/attach/signin request, 13 query_stream, 14 close (arg 0) or query, 15 the same
answer twice."""
import os

scripts = {
    "answer_ping": [0, 8, 0, 0, 0, 5, 0, 1],
    "live_notify_killed": [0, 8, 0, 1, 0, 5, 0, 0, 10, 0, 10, 2],
    "live_query_answer": [0, 8, 0, 2, 0, 5, 0, 3, 10, 1],
    "timeout_then_late_reply": [0, 8, 0, 0, 0, 1, 0, 5, 0, 0, 6, 200, 5, 1, 0, 5, 0, 1],
    "replay_fails": [0, 8, 0, 12, 1, 5, 0, 1, 1, 0, 5, 1, 0, 7, 0, 6, 10, 5, 2, 2, 5, 3, 0],
    "idless_error": [0, 8, 0, 0, 0, 0, 0, 1, 0, 11, 0],
    "stream_frames": [0, 8, 0, 13, 0, 5, 0, 5, 5, 0, 6, 5, 0, 7],
    "stream_timeout": [2, 8, 0, 13, 0, 5, 0, 5, 6, 120, 5, 0, 7],
    "double_answer": [0, 8, 0, 0, 0, 15, 1, 12, 0, 15, 2],
    "unsubscribe_before_id": [0, 8, 0, 1, 0, 3, 0, 5, 0, 0],
    "no_reconnect": [1, 8, 0, 0, 0, 1, 0, 7, 0, 0, 0],
    "garbage": [0, 8, 0, 4, 5, 0xA1, 0x62, 0x69, 0x64, 0x01, 0, 0],
    "txn_lost": [0, 8, 0, 12, 3, 5, 4, 0, 7, 0, 12, 4, 6, 10],
    "close_midflight": [0, 8, 0, 0, 0, 1, 0, 13, 0, 14, 0, 0, 0, 1, 0],
    "queued_while_connecting": [0, 0, 0, 1, 0, 12, 0, 9, 0, 6, 10, 5, 0, 1, 5, 1, 1],
    "keepalive_dead": [0, 8, 0, 1, 0, 5, 0, 0, 6, 70, 6, 110, 6, 2, 5, 0, 0],
    "attached_session_replay": [0, 8, 0, 12, 6, 5, 0, 1, 12, 8, 7, 0, 6, 10, 5, 1, 1, 5, 2, 1],
    "signin_token_replay": [0, 8, 0, 12, 7, 5, 0, 4, 7, 0, 6, 10, 5, 1, 2, 0, 0],
    "empty": [],
}

out = os.path.join(os.path.dirname(__file__), "..", "corpus", "connection_outcomes")
os.makedirs(out, exist_ok=True)
for name, b in scripts.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(bytes(b))
