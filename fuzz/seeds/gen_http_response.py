#!/usr/bin/env python3
"""Writes the hand-made seeds of corpus/http_response/ (run from fuzz/): what a server, a
proxy or a hostile peer could answer to `POST /rpc`."""
import os

CBOR_OK = bytes.fromhex("a266726573756c74f66269640b")  # {result: NULL, id: 11}-ish body
CL = b"HTTP/1.1 200 OK\r\nContent-Type: application/cbor\r\nContent-Length: %d\r\n\r\n"


def chunked(body, size):
    out = b""
    for i in range(0, len(body), size):
        part = body[i : i + size]
        out += b"%x\r\n" % len(part) + part + b"\r\n"
    return out + b"0\r\n\r\n"


seeds = {
    "ok_content_length": CL % len(CBOR_OK) + CBOR_OK,
    "ok_chunked": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked(CBOR_OK, 5),
    "ok_chunked_1byte": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked(CBOR_OK, 1),
    "ok_chunk_extension": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\n\r\n",
    "ok_trailers": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\nX-T: 1\r\n\r\n",
    "ok_close_delimited": b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + CBOR_OK,
    "ok_no_body_204": b"HTTP/1.1 204 No Content\r\n\r\n",
    "ok_100_continue": b"HTTP/1.1 100 Continue\r\n\r\n" + CL % 0,
    "ok_error_status": b"HTTP/1.1 400 Bad Request\r\nContent-Length: 5\r\n\r\nerror",
    "ok_http10": b"HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx",
    "ok_lf_only": b"HTTP/1.1 200 OK\nContent-Length: 1\n\nx",
    "bad_chunk_overflow": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\nx",
    "bad_chunk_size_huge": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + b"f" * 40 + b"\r\n",
    "bad_content_length_huge": b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
    "bad_two_content_lengths": b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxy",
    "bad_cl_and_chunked": b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "bad_status_line": b"HTTX/1.1 200 OK\r\n\r\n",
    "bad_status_code": b"HTTP/1.1 2000 OK\r\n\r\n",
    "bad_long_header": b"HTTP/1.1 200 OK\r\nX: " + b"a" * 20000 + b"\r\n\r\n",
    "bad_many_headers": b"HTTP/1.1 200 OK\r\n" + b"X: y\r\n" * 500 + b"\r\n",
    "bad_endless_status": b"HTTP/1.1 200 " + b"O" * 20000,
    "truncated_headers": b"HTTP/1.1 200 OK\r\nContent-Len",
    "truncated_body": CL % 100 + b"abc",
    "truncated_chunk": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nabc",
    "bad_header_no_colon": b"HTTP/1.1 200 OK\r\nContent-Length 1\r\n\r\nx",
    "empty": b"",
}

out = os.path.join(os.path.dirname(__file__), "..", "corpus", "http_response")
os.makedirs(out, exist_ok=True)
for name, b in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(b)
