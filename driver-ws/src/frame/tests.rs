use std::collections::VecDeque;
use std::io::{self, ErrorKind, Read, Write};

use super::{frame_into, mask, Framed, Got, KEEP_AT_MOST, READ_ROOM};

/// A scripted peer: each read hands out the next chunk (or error); an empty script reads
/// as `WouldBlock`. Writes are kept; `write_room` limits how much one write takes, and a
/// write with no room left is `WouldBlock`.
#[derive(Default)]
struct Script {
    reads: VecDeque<io::Result<Vec<u8>>>,
    written: Vec<u8>,
    write_room: Option<usize>,
    writes: usize,
}

impl Read for Script {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.reads.pop_front() {
            None => Err(ErrorKind::WouldBlock.into()),
            Some(Err(e)) => Err(e),
            Some(Ok(chunk)) => {
                let n = chunk.len().min(buf.len());
                buf[..n].copy_from_slice(&chunk[..n]);
                if n < chunk.len() {
                    self.reads.push_front(Ok(chunk[n..].to_vec()));
                }
                Ok(n)
            }
        }
    }
}

impl Write for Script {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.writes += 1;
        let n = match self.write_room {
            Some(0) => return Err(ErrorKind::WouldBlock.into()),
            Some(room) => {
                let n = room.min(buf.len());
                self.write_room = Some(room - n);
                n
            }
            None => buf.len(),
        };
        self.written.extend_from_slice(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn framed(chunks: Vec<Vec<u8>>) -> Framed<Script> {
    scripted(chunks.into_iter().map(Ok).collect(), 64 << 20)
}

/// An upgraded connection whose reads follow `reads`, messages limited to `max` bytes.
fn scripted(reads: VecDeque<io::Result<Vec<u8>>>, max: usize) -> Framed<Script> {
    let mut f = Framed::upgrading(Script {
        reads,
        ..Script::default()
    });
    f.upgraded(max);
    f
}

/// A server's frame (unmasked).
fn server_frame(first: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![first];
    match payload.len() {
        n if n < 126 => f.push(n as u8),
        n if n <= 0xFFFF => {
            f.push(126);
            f.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            f.push(127);
            f.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    f.extend_from_slice(payload);
    f
}

/// Reads back the frames a client wrote: (first byte, unmasked payload) each; every frame
/// must be masked.
fn client_frames(mut bytes: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut frames = Vec::new();
    while !bytes.is_empty() {
        let first = bytes[0];
        assert_eq!(bytes[1] & 0x80, 0x80, "a client frame must be masked");
        let (len, at) = match bytes[1] & 0x7F {
            126 => (u16::from_be_bytes([bytes[2], bytes[3]]) as usize, 4),
            127 => (
                u64::from_be_bytes(bytes[2..10].try_into().unwrap()) as usize,
                10,
            ),
            n => (n as usize, 2),
        };
        let key = [bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]];
        let payload: Vec<u8> = bytes[at + 4..at + 4 + len]
            .iter()
            .enumerate()
            .map(|(i, b)| b ^ key[i % 4])
            .collect();
        frames.push((first, payload));
        bytes = &bytes[at + 4 + len..];
    }
    frames
}

fn message(f: &mut Framed<Script>) -> Vec<u8> {
    match f.read() {
        Ok(Got::Message(m)) => m.to_vec(),
        other => panic!("expected a message, got {other:?}"),
    }
}

fn failure(f: &mut Framed<Script>) -> String {
    match f.read() {
        Err(why) => why,
        Ok(other) => panic!("expected a failure, got {other:?}"),
    }
}

#[test]
fn frames_of_every_length_encoding_are_read_whole() {
    for len in [0usize, 1, 125, 126, 65_535, 65_536, 200_000] {
        let payload: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        let mut f = framed(vec![server_frame(0x82, &payload)]);
        assert_eq!(message(&mut f), payload, "length {len}");
        assert_eq!(f.read(), Ok(Got::WouldBlock), "length {len}");
    }
}

#[test]
fn a_frame_arriving_a_byte_at_a_time_is_read_once_complete() {
    let payload: Vec<u8> = (0..300u16).map(|i| i as u8).collect();
    let bytes = server_frame(0x82, &payload);
    // One byte per turn, the socket empty in between.
    let reads = bytes
        .iter()
        .flat_map(|b| [Ok(vec![*b]), Err(io::Error::from(ErrorKind::WouldBlock))])
        .collect();
    let mut f = scripted(reads, 1 << 20);
    for i in 0..bytes.len() - 1 {
        assert_eq!(f.read(), Ok(Got::WouldBlock), "after byte {i}");
    }
    assert_eq!(message(&mut f), payload);
    assert_eq!(f.read(), Ok(Got::WouldBlock));
}

#[test]
fn several_frames_in_one_read_come_out_one_by_one() {
    let mut bytes = server_frame(0x82, b"one");
    bytes.extend(server_frame(0x81, b"two"));
    bytes.extend(server_frame(0x82, &[7; 300]));
    let mut f = framed(vec![bytes]);
    assert_eq!(message(&mut f), b"one");
    assert_eq!(message(&mut f), b"two", "text is handed on as bytes");
    assert_eq!(message(&mut f), vec![7; 300]);
    assert_eq!(f.read(), Ok(Got::WouldBlock));
}

#[test]
fn a_fragmented_message_is_put_together_and_a_ping_among_it_answered() {
    let mut bytes = server_frame(0x02, b"hel");
    bytes.extend(server_frame(0x89, b"are you there"));
    bytes.extend(server_frame(0x00, b"lo "));
    bytes.extend(server_frame(0x8A, b"unasked pong"));
    bytes.extend(server_frame(0x80, b"world"));
    bytes.extend(server_frame(0x82, b"next"));
    let mut f = framed(vec![bytes]);
    assert_eq!(message(&mut f), b"hello world");
    assert_eq!(message(&mut f), b"next");
    assert!(f.has_output(), "the ping's pong waits for a flush");
    f.flush().unwrap();
    assert_eq!(
        client_frames(&f.get_ref().written),
        [(0x8A, b"are you there".to_vec())]
    );
}

#[test]
fn a_close_frame_gives_its_code_and_reason_and_is_answered() {
    let mut body = 1011u16.to_be_bytes().to_vec();
    body.extend_from_slice(b"going for coffee");
    let mut f = framed(vec![server_frame(0x88, &body)]);
    assert_eq!(
        f.read(),
        Ok(Got::Closed(
            "the server closed the connection (code 1011: going for coffee)".into()
        ))
    );
    f.flush().unwrap();
    assert_eq!(client_frames(&f.get_ref().written), [(0x88, vec![])]);
    let mut f = framed(vec![server_frame(0x88, &[])]);
    assert_eq!(
        f.read(),
        Ok(Got::Closed("the server closed the connection".into()))
    );
}

#[test]
fn protocol_violations_end_the_connection_saying_which() {
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (server_frame(0xC2, b"x"), "reserved bits"),
        (vec![0x82, 0x81, 1, 2, 3, 4, 5], "masked"),
        (server_frame(0x83, b"x"), "unknown opcode 3"),
        (server_frame(0x8B, b"x"), "unknown opcode 11"),
        (server_frame(0x09, b"x"), "control frame"),
        (server_frame(0x89, &[0; 126]), "control frame"),
        (server_frame(0x80, b"x"), "continuation frame came outside"),
        (
            [server_frame(0x02, b"a"), server_frame(0x82, b"b")].concat(),
            "new message began inside",
        ),
    ];
    for (bytes, want) in cases {
        let mut f = framed(vec![bytes.clone()]);
        let why = failure(&mut f);
        assert!(why.contains(want), "{bytes:x?}: {why}");
        assert!(why.contains("WebSocket protocol"), "{why}");
    }
}

#[test]
fn messages_over_the_limit_are_refused_before_they_are_read() {
    let mut f = scripted(
        [Ok(vec![0x82, 127, 0xFF, 0, 0, 0, 0, 0, 0, 0])].into(),
        1000,
    );
    let why = failure(&mut f);
    assert!(why.contains("over the limit of 1000 bytes"), "{why}");
    assert!(f.buf.len() <= READ_ROOM, "nothing was allocated for it");

    let fragments = [server_frame(0x02, &[1; 600]), server_frame(0x80, &[2; 600])].concat();
    let mut f = scripted([Ok(fragments)].into(), 1000);
    let why = failure(&mut f);
    assert!(
        why.contains("message of 1200 bytes, over the limit"),
        "{why}"
    );
}

#[test]
fn a_header_claiming_a_large_message_costs_only_what_arrives() {
    // 64 MiB announced (under the limit), ten bytes sent.
    let mut head = vec![0x82, 127];
    head.extend_from_slice(&(64u64 << 20).to_be_bytes());
    head.extend_from_slice(&[1; 10]);
    let mut f = framed(vec![head]);
    assert_eq!(f.read(), Ok(Got::WouldBlock));
    assert!(
        f.buf.len() <= 2 * READ_ROOM,
        "{} bytes for 20 received",
        f.buf.len()
    );
}

#[test]
fn the_end_of_the_stream_and_read_errors_end_the_connection() {
    let mut f = framed(vec![vec![]]);
    assert_eq!(
        failure(&mut f),
        "the server closed the connection without a close frame"
    );
    let mut f = scripted(
        [Err(io::Error::from(ErrorKind::ConnectionReset))].into(),
        1 << 20,
    );
    assert!(failure(&mut f).starts_with("reading from the socket failed"));
    // Interrupted reads are retried.
    let reads = [
        Err(io::Error::from(ErrorKind::Interrupted)),
        Ok(server_frame(0x82, b"ok")),
    ];
    let mut f = scripted(reads.into(), 1 << 20);
    assert_eq!(message(&mut f), b"ok");
}

#[test]
fn sent_frames_are_masked_final_binary_frames_of_every_length() {
    let mut f = framed(vec![]);
    let lens = [0usize, 5, 125, 126, 65_535, 65_536, 100_000];
    let payloads: Vec<Vec<u8>> = lens
        .iter()
        .map(|n| (0..*n).map(|i| (i * 7 % 256) as u8).collect())
        .collect();
    for p in &payloads {
        f.send(p);
    }
    f.flush().unwrap();
    assert!(!f.has_output());
    let frames = client_frames(&f.get_ref().written);
    assert_eq!(frames.len(), lens.len());
    for (frame, p) in frames.iter().zip(&payloads) {
        assert_eq!(frame.0, 0x82);
        assert_eq!(&frame.1, p);
    }
}

#[test]
fn a_blocked_write_keeps_the_rest_and_never_writes_a_byte_twice() {
    let mut f = framed(vec![]);
    f.get_mut_script().write_room = Some(3);
    f.send(b"first request");
    f.send(b"second");
    let err = f.flush().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::WouldBlock);
    assert!(f.has_output());
    assert!(f.moved());
    // A peer that takes nothing: stuck.
    f.get_mut_script().write_room = Some(0);
    assert_eq!(f.flush().unwrap_err().kind(), ErrorKind::WouldBlock);
    assert!(!f.moved());
    assert_eq!(f.get_ref().written.len(), 3);
    f.get_mut_script().write_room = Some(10);
    assert_eq!(f.flush().unwrap_err().kind(), ErrorKind::WouldBlock);
    f.get_mut_script().write_room = None;
    f.flush().unwrap();
    assert!(!f.has_output());
    assert_eq!(
        client_frames(&f.get_ref().written),
        [
            (0x82, b"first request".to_vec()),
            (0x82, b"second".to_vec())
        ]
    );
    // Nothing left: a flush writes nothing.
    let writes = f.get_ref().writes;
    f.flush().unwrap();
    assert_eq!(f.get_ref().writes, writes);
}

#[test]
fn a_slow_reader_that_never_empties_the_buffer_does_not_grow_it_without_end() {
    let mut f = framed(vec![]);
    let payload = [5u8; 1000];
    let mut sent = 0;
    for _ in 0..1000 {
        // Each turn one more frame is queued and the peer takes a little less than a frame.
        f.send(&payload);
        sent += 1;
        f.get_mut_script().write_room = Some(1000);
        assert_eq!(f.flush().unwrap_err().kind(), ErrorKind::WouldBlock);
        assert!(f.moved(), "the peer took some: not stuck");
        assert!(f.out.len() < 64 * 1024, "{} bytes queued", f.out.len());
    }
    f.get_mut_script().write_room = None;
    f.flush().unwrap();
    let frames = client_frames(&f.get_ref().written);
    assert_eq!(frames.len(), sent, "every frame exactly once");
    assert!(frames
        .iter()
        .all(|(first, p)| *first == 0x82 && p[..] == payload[..]));
}

#[test]
fn the_upgrade_reads_the_head_and_leaves_a_first_frame_to_the_framing() {
    let head = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n";
    let frame = server_frame(0x82, b"early");
    let mut f = Framed::upgrading(Script {
        reads: [[&head[..], &frame].concat()].into_iter().map(Ok).collect(),
        ..Script::default()
    });
    let mut got = Vec::new();
    let mut chunk = [0u8; 7];
    loop {
        let n = f.read_head(&mut chunk);
        got.extend_from_slice(&chunk[..n]);
        if got.ends_with(b"\r\n\r\n") {
            break;
        }
        assert!(n > 0);
    }
    assert_eq!(got, head);
    assert!(
        Read::read(&mut f, &mut chunk).is_err(),
        "nothing past the head"
    );
    f.upgraded(1 << 20);
    assert_eq!(message(&mut f), b"early");
}

#[test]
fn the_head_end_is_found_across_reads_and_after_lone_carriage_returns() {
    let head = b"HTTP/1.1 101 X\r\nA: b\r\r\n\r\r\n\r\n";
    let frame = server_frame(0x82, b"x");
    let bytes = [&head[..], &frame].concat();
    let mut f = Framed::upgrading(Script {
        reads: bytes.iter().map(|b| Ok(vec![*b])).collect(),
        ..Script::default()
    });
    let mut got = Vec::new();
    let mut chunk = [0u8; 64];
    while !got.ends_with(b"\r\n\r\n") {
        let n = f.read_head(&mut chunk);
        assert!(n > 0);
        got.extend_from_slice(&chunk[..n]);
    }
    assert_eq!(got, head);
    f.upgraded(1 << 20);
    assert_eq!(message(&mut f), b"x");
}

#[test]
fn a_large_message_grows_the_buffer_which_is_given_back_afterwards() {
    let big = vec![9u8; KEEP_AT_MOST * 2];
    let mut f = framed(vec![server_frame(0x82, &big), server_frame(0x82, b"small")]);
    assert_eq!(message(&mut f).len(), big.len());
    assert_eq!(message(&mut f), b"small");
    assert_eq!(f.read(), Ok(Got::WouldBlock));
    assert_eq!(f.buf.len(), READ_ROOM, "the large buffer was given back");
}

#[test]
fn masking_matches_the_byte_by_byte_definition() {
    let key = [0x12, 0x34, 0x56, 0x78];
    for len in 0..40 {
        let data: Vec<u8> = (0..len).map(|i| (i * 13) as u8).collect();
        let mut fast = data.clone();
        mask(&mut fast, key);
        let slow: Vec<u8> = data
            .iter()
            .enumerate()
            .map(|(i, b)| b ^ key[i % 4])
            .collect();
        assert_eq!(fast, slow, "length {len}");
    }
    let mut out = Vec::new();
    frame_into(&mut out, 0x2, b"abc");
    assert_eq!(client_frames(&out), [(0x82, b"abc".to_vec())]);
}

impl Framed<Script> {
    fn get_mut_script(&mut self) -> &mut Script {
        &mut self.io
    }

    fn read_head(&mut self, into: &mut [u8]) -> usize {
        Read::read(self, into).expect("head read")
    }
}
