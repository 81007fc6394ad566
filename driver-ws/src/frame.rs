//! WebSocket framing on an upgraded connection (RFC 6455 §5, the client's side).
//!
//! tungstenite performs the upgrade (request, response head, `Sec-WebSocket-Accept`,
//! subprotocol); from then on this reads and writes the frames itself. A reply goes from
//! the socket into one buffer that is kept (zeroed once when it grows, never again before a
//! read) and is lent to the core where it lies, and a request is framed and masked straight
//! into the outgoing buffer. Each call of a round trip runs this code between the reply
//! arriving and the next request leaving, so it is small: one buffer each way, no message
//! objects, no per-read zeroing, no allocation for an unfragmented frame.
//!
//! What the server may send: binary (or text, handed on as bytes: the core reports text on
//! a CBOR connection) data frames, fragmented or not, with pings, pongs and a close among
//! them. A ping is answered with a pong on the next flush; a close ends the connection with
//! its code and reason. Anything else (reserved bits, an unknown opcode, a masked frame, a
//! fragmented or oversized control frame, a continuation out of place, a message over the
//! limit) is a protocol violation that ends the connection, as tungstenite did.

use std::io::{self, ErrorKind, Read, Write};
use std::net::TcpStream;

const OP_CONTINUATION: u8 = 0x0;
const OP_TEXT: u8 = 0x1;
const OP_BINARY: u8 = 0x2;
const OP_CLOSE: u8 = 0x8;
const OP_PING: u8 = 0x9;
const OP_PONG: u8 = 0xA;

/// The read buffer's size when idle, and the least room a read is given.
const READ_ROOM: usize = 16 * 1024;
/// A buffer grown past this for one large message is given back once it is empty.
const KEEP_AT_MOST: usize = 1024 * 1024;

/// A connection's byte stream: TCP, or rustls over TCP (under the WebSocket, and under the
/// blocking driver's HTTP connections).
pub enum Transport {
    /// Plain TCP.
    Plain(TcpStream),
    /// TLS over TCP.
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Transport {
    /// The TCP stream underneath.
    pub fn tcp(&self) -> &TcpStream {
        match self {
            Transport::Plain(s) => s,
            Transport::Tls(s) => s.get_ref(),
        }
    }
}

impl Read for Transport {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(s) => s.read(buf),
            Transport::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Transport {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(s) => s.write(buf),
            Transport::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Transport::Plain(s) => s.flush(),
            Transport::Tls(s) => s.flush(),
        }
    }
}

/// What [`Framed::read`] found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Got<'a> {
    /// One whole message's payload (valid until the next call).
    Message(&'a [u8]),
    /// The server closed the connection; why, in words (with its code and reason).
    Closed(String),
    /// Nothing more to read now.
    WouldBlock,
}

/// A WebSocket client connection's framing over `S`.
pub(crate) struct Framed<S> {
    io: S,
    /// Bytes read: `buf[start..end]` not consumed yet. All of `buf` is initialised, so a
    /// read goes straight into its free tail.
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// While upgrading: how much of the head's end (`\r\n\r\n`) the bytes handed to the
    /// handshake end with (4: the head is complete, nothing more is handed out). `None`
    /// once upgraded.
    head: Option<u8>,
    /// A fragmented message being put together.
    partial: Option<Vec<u8>>,
    /// The last message put together from fragments (lent out by [`Framed::read`]).
    assembled: Vec<u8>,
    /// Frames to write: `out[written..]` not written yet.
    out: Vec<u8>,
    written: usize,
    /// Whether the last [`Framed::flush`] wrote anything.
    moved: bool,
    max_message: usize,
}

impl<S> Framed<S> {
    /// A connection about to be upgraded: the handshake reads through [`Read`] (only up to
    /// the end of the response head, so no byte of a first frame is lost to it) and writes
    /// through [`Write`].
    pub(crate) fn upgrading(io: S) -> Self {
        Framed {
            io,
            buf: vec![0; READ_ROOM],
            start: 0,
            end: 0,
            head: Some(0),
            partial: None,
            assembled: Vec::new(),
            out: Vec::new(),
            written: 0,
            moved: false,
            max_message: usize::MAX,
        }
    }

    /// The upgrade is done: frames from here on, messages of at most `max_message` bytes.
    pub(crate) fn upgraded(&mut self, max_message: usize) {
        self.head = None;
        self.max_message = max_message;
    }

    pub(crate) fn get_ref(&self) -> &S {
        &self.io
    }

    /// Whether the last [`Framed::flush`] wrote anything (a peer that keeps reading, however
    /// slowly, is not stuck).
    pub(crate) fn moved(&self) -> bool {
        self.moved
    }

    /// Whether frames wait to be written (see [`Framed::flush`]).
    pub(crate) fn has_output(&self) -> bool {
        self.written < self.out.len()
    }

    /// Queues one binary message (a single masked frame); [`Framed::flush`] writes it.
    pub(crate) fn send(&mut self, payload: &[u8]) {
        frame_into(&mut self.out, OP_BINARY, payload);
    }

    /// Queues a close frame (no code); [`Framed::flush`] writes it.
    pub(crate) fn close(&mut self) {
        frame_into(&mut self.out, OP_CLOSE, &[]);
    }

    /// Makes room to read towards `total` bytes from `start`: moves the unread bytes to the
    /// front, and grows the buffer (zero-filled once) as the bytes arrive, doubling, up to
    /// `total`. A frame's header is only a claim: a server announcing 100 MiB and sending
    /// ten bytes costs a buffer of twice what it sent, not 100 MiB.
    fn room_for(&mut self, total: usize) {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        } else if self.buf.len() - self.start < total.max(READ_ROOM) {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.buf.len() < total {
            let grown = (self.buf.len() * 2).max(self.end + READ_ROOM);
            self.buf.resize(grown.min(total), 0);
        }
    }
}

impl<S: Write> Framed<S> {
    /// Writes what is queued. `WouldBlock` (or any error) leaves the rest queued: it is
    /// written by the next flush, never twice.
    pub(crate) fn flush(&mut self) -> io::Result<()> {
        self.moved = false;
        while self.written < self.out.len() {
            match self.io.write(&self.out[self.written..]) {
                Ok(0) => return Err(ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.written += n;
                    self.moved = true;
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => {
                    // A peer that keeps reading a little while frames keep coming never lets
                    // the buffer empty: what it took goes, once it is half the buffer.
                    if self.written >= self.out.len() / 2 {
                        self.out.drain(..self.written);
                        self.written = 0;
                    }
                    return Err(e);
                }
            }
        }
        self.written = 0;
        if self.out.capacity() > KEEP_AT_MOST {
            self.out = Vec::new();
        } else {
            self.out.clear();
        }
        // rustls may hold records it could not write yet.
        self.io.flush()
    }
}

impl<S: Read> Framed<S> {
    /// Reads until one message, a close, or nothing more to read now. An error ends the
    /// connection (a failed read, or the server breaking the protocol) and says why.
    pub(crate) fn read(&mut self) -> Result<Got<'_>, String> {
        if self.start == self.end && self.buf.len() > KEEP_AT_MOST {
            self.buf = vec![0; READ_ROOM];
            self.start = 0;
            self.end = 0;
        }
        if self.assembled.capacity() > KEEP_AT_MOST {
            self.assembled = Vec::new();
        }
        loop {
            let frame = match self.header()? {
                Ok(frame) => frame,
                Err(total) => {
                    if let Some(done) = self.fill(total)? {
                        return Ok(done);
                    }
                    continue;
                }
            };
            let payload = frame.payload.clone();
            self.start = payload.end;
            match frame.opcode {
                OP_BINARY | OP_TEXT if self.partial.is_some() => {
                    return Err(violation("a new message began inside a fragmented one"))
                }
                OP_BINARY | OP_TEXT if frame.fin => {
                    return Ok(Got::Message(&self.buf[payload]));
                }
                OP_BINARY | OP_TEXT => self.partial = Some(self.buf[payload].to_vec()),
                OP_CONTINUATION => {
                    let Some(mut partial) = self.partial.take() else {
                        return Err(violation("a continuation frame came outside a message"));
                    };
                    if partial.len() + payload.len() > self.max_message {
                        return Err(too_long(partial.len() + payload.len(), self.max_message));
                    }
                    partial.extend_from_slice(&self.buf[payload]);
                    if frame.fin {
                        self.assembled = partial;
                        return Ok(Got::Message(&self.assembled));
                    }
                    self.partial = Some(partial);
                }
                OP_PING => frame_into(&mut self.out, OP_PONG, &self.buf[payload]),
                OP_PONG => {}
                _ => {
                    // OP_CLOSE (`header` lets no other opcode through). Answered with a
                    // close frame, best effort: the socket is dropped right after.
                    frame_into(&mut self.out, OP_CLOSE, &[]);
                    let body = &self.buf[payload];
                    return Ok(Got::Closed(match body {
                        [hi, lo, reason @ ..] => format!(
                            "the server closed the connection (code {}: {})",
                            u16::from_be_bytes([*hi, *lo]),
                            String::from_utf8_lossy(reason)
                        ),
                        _ => "the server closed the connection".to_owned(),
                    }));
                }
            }
        }
    }

    /// The frame at `start`, checked; or `Err(total)`: the bytes it needs from `start`
    /// before it can be read (its header's, then the whole frame's).
    fn header(&self) -> Result<Result<Frame, usize>, String> {
        let b = &self.buf[self.start..self.end];
        let [b0, b1, ..] = *b else {
            return Ok(Err(2));
        };
        let (fin, opcode) = (b0 & 0x80 != 0, b0 & 0x0F);
        if b0 & 0x70 != 0 {
            return Err(violation("a frame has reserved bits set"));
        }
        if b1 & 0x80 != 0 {
            return Err(violation("a frame from the server is masked"));
        }
        let (head, len) = match b1 & 0x7F {
            126 => match b.get(2..4) {
                Some(l) => (4, u64::from(u16::from_be_bytes([l[0], l[1]]))),
                None => return Ok(Err(4)),
            },
            127 => match b.get(2..10) {
                Some(l) => {
                    let mut n = [0u8; 8];
                    n.copy_from_slice(l);
                    (10, u64::from_be_bytes(n))
                }
                None => return Ok(Err(10)),
            },
            n => (2, u64::from(n)),
        };
        match opcode {
            OP_CONTINUATION | OP_TEXT | OP_BINARY => {}
            OP_CLOSE | OP_PING | OP_PONG if fin && len <= 125 => {}
            OP_CLOSE | OP_PING | OP_PONG => {
                return Err(violation("a control frame is fragmented or over 125 bytes"))
            }
            other => {
                return Err(violation(&format!(
                    "a frame has the unknown opcode {other}"
                )))
            }
        }
        let max = self.max_message;
        let len = match usize::try_from(len) {
            Ok(len) if len <= max => len,
            _ => return Err(too_long(usize::try_from(len).unwrap_or(usize::MAX), max)),
        };
        let total = head + len;
        if b.len() < total {
            return Ok(Err(total));
        }
        let at = self.start + head;
        Ok(Ok(Frame {
            fin,
            opcode,
            payload: at..at + len,
        }))
    }

    /// Reads more, for a frame that needs `total` bytes from `start`. `Some` when there is
    /// nothing to read now.
    fn fill(&mut self, total: usize) -> Result<Option<Got<'static>>, String> {
        self.room_for(total);
        loop {
            match self.io.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    return Err("the server closed the connection without a close frame".into())
                }
                Ok(n) => {
                    self.end += n;
                    return Ok(None);
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(Some(Got::WouldBlock)),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("reading from the socket failed: {e}")),
            }
        }
    }
}

/// During the upgrade only: hands the handshake the response head and nothing after it.
impl<S: Read> Read for Framed<S> {
    fn read(&mut self, into: &mut [u8]) -> io::Result<usize> {
        let Some(mut matched) = self.head.filter(|m| *m < 4) else {
            return Err(io::Error::other(
                "read past the WebSocket upgrade's response head",
            ));
        };
        if self.start == self.end {
            self.room_for(1);
            loop {
                match self.io.read(&mut self.buf[self.end..]) {
                    Ok(n) => {
                        self.end += n;
                        break;
                    }
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
        }
        let mut n = 0;
        for &b in self.buf[self.start..self.end].iter().take(into.len()) {
            n += 1;
            matched = match (matched, b) {
                (0 | 2, b'\r') | (1 | 3, b'\n') => matched + 1,
                (_, b'\r') => 1,
                _ => 0,
            };
            if matched == 4 {
                break;
            }
        }
        into[..n].copy_from_slice(&self.buf[self.start..self.start + n]);
        self.start += n;
        self.head = Some(matched);
        Ok(n)
    }
}

/// During the upgrade: the handshake's request goes straight out.
impl<S: Write> Write for Framed<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.io.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.io.flush()
    }
}

/// One frame's header, read and checked.
struct Frame {
    fin: bool,
    opcode: u8,
    payload: std::ops::Range<usize>,
}

fn violation(what: &str) -> String {
    format!("the server broke the WebSocket protocol: {what}")
}

fn too_long(len: usize, max: usize) -> String {
    format!("the server sent a message of {len} bytes, over the limit of {max} bytes")
}

/// Appends one final, masked frame (a client's frames are masked, RFC 6455 §5.3, with a
/// key nobody can predict).
fn frame_into(out: &mut Vec<u8>, opcode: u8, payload: &[u8]) {
    let key: [u8; 4] = rand::random();
    out.reserve(14 + payload.len());
    out.push(0x80 | opcode);
    let len = payload.len();
    if len < 126 {
        out.push(0x80 | len as u8);
    } else if let Ok(len) = u16::try_from(len) {
        out.push(0x80 | 126);
        out.extend_from_slice(&len.to_be_bytes());
    } else {
        out.push(0x80 | 127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    out.extend_from_slice(&key);
    let at = out.len();
    out.extend_from_slice(payload);
    mask(&mut out[at..], key);
}

/// XORs `data` with the repeating `key`, eight bytes at a time.
fn mask(data: &mut [u8], key: [u8; 4]) {
    let wide = u64::from_ne_bytes([
        key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3],
    ]);
    let mut chunks = data.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(chunk);
        chunk.copy_from_slice(&(u64::from_ne_bytes(w) ^ wide).to_ne_bytes());
    }
    for (i, b) in chunks.into_remainder().iter_mut().enumerate() {
        *b ^= key[i % 4];
    }
}

/// Runs the framing over `bytes` as if the server had sent them after the upgrade: for
/// fuzzing. It must never panic, whatever the bytes, and must read the same messages (and
/// end the same way) however the bytes are cut into reads; it panics if not.
pub fn fuzz_frames(bytes: &[u8]) {
    let whole = outcomes(bytes, bytes.len().max(1));
    // Small cuts only of small inputs: the fuzzer's time goes to shapes, not lengths.
    for step in [1, 7] {
        if bytes.len() <= 4096 {
            assert_eq!(outcomes(bytes, step), whole, "reads of {step} bytes");
        }
    }
}

/// What the framing made of `bytes` handed out `step` at a time, with a `WouldBlock`
/// between reads and the end of the stream after them.
fn outcomes(bytes: &[u8], step: usize) -> Vec<Result<Vec<u8>, String>> {
    struct Cut<'a> {
        rest: &'a [u8],
        step: usize,
        blocked: bool,
    }
    impl Read for Cut<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.blocked = !self.blocked;
            if !self.blocked {
                return Err(ErrorKind::WouldBlock.into());
            }
            let n = self.rest.len().min(self.step).min(buf.len());
            buf[..n].copy_from_slice(&self.rest[..n]);
            self.rest = &self.rest[n..];
            Ok(n)
        }
    }
    let mut f = Framed::upgrading(Cut {
        rest: bytes,
        step,
        blocked: false,
    });
    f.upgraded(1 << 20);
    let mut seen = Vec::new();
    loop {
        match f.read() {
            Ok(Got::Message(m)) => seen.push(Ok(m.to_vec())),
            Ok(Got::WouldBlock) => {}
            Ok(Got::Closed(why)) | Err(why) => {
                seen.push(Err(why));
                return seen;
            }
        }
    }
}

#[cfg(test)]
mod tests;
