//! `Options`: every connection setting, the same for both drivers and both transports.
//!
//! Every duration is a bound on a wait; `Duration::MAX` means "as long as it takes" and is
//! safe everywhere (deadlines saturate instead of overflowing).
//!
//! ```
//! use std::time::Duration;
//! use surql::Options;
//!
//! let o = Options::default()
//!     .request_timeout(Duration::from_secs(5))
//!     .connect_timeout(Duration::MAX)
//!     .stream_buffer(64);
//! assert_eq!(o.request_timeout, Duration::from_secs(5));
//! assert_eq!(o.conn_config().request_timeout, Duration::from_secs(5));
//! ```

use std::fmt;
use std::time::Duration;

use crate::conn::Config;

/// Connection settings (WebSocket and HTTP).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Options {
    /// How long opening a connection may take: TCP connect, TLS handshake and WebSocket
    /// upgrade, each bounded by it.
    pub connect_timeout: Duration,
    /// How long a request may wait for its answer (time queued behind a reconnect included);
    /// over HTTP, the bound on one whole exchange (send, status, headers, body).
    pub request_timeout: Duration,
    /// Idle time after which a WebSocket keep-alive `ping` is sent (zero disables it).
    pub ping_interval: Duration,
    /// Reconnect (and restore the session) after a WebSocket is lost.
    pub reconnect: bool,
    /// First reconnect delay.
    pub backoff_initial: Duration,
    /// Cap of the doubling reconnect delay.
    pub backoff_max: Duration,
    /// How many `query_stream` frames may wait unread per stream. A reader that falls
    /// further behind ends its stream with [`Error::ReaderTooSlow`](crate::Error) and the
    /// query is cancelled on the server; other callers are never held up.
    pub stream_buffer: usize,
    /// How many live notifications may wait unread per live stream; past it the stream
    /// ends with [`Error::ReaderTooSlow`](crate::Error) and the live query is killed.
    pub live_buffer: usize,
    /// TLS settings for `wss://` and `https://`.
    pub tls: TlsOptions,
    /// Show bound values in request logs and recorders (off by default: only their names
    /// show). Secrets stay hidden either way: see [`crate::log`].
    pub log_values: bool,
    /// The most WebSocket connections one client opens to carry concurrent callers (default
    /// 4; 1 keeps every request on one connection). Extra connections are opened in the
    /// background only while callers overlap, carry a copy of the session, and take only
    /// requests that need nothing else of their connection: see [`crate::lanes`]. Live
    /// queries, streams, RPC transactions, attached sessions and every session change stay
    /// on the first connection; a session change retires the others (an application that
    /// changes its session on every request is better served by 1). They stay open once
    /// callers stop overlapping, until a session change or the client closes. HTTP has no
    /// use for it.
    pub ws_connections: usize,
}

impl Default for Options {
    fn default() -> Self {
        let c = Config::default();
        Options {
            connect_timeout: Duration::from_secs(10),
            request_timeout: c.request_timeout,
            ping_interval: c.ping_interval,
            reconnect: c.reconnect,
            backoff_initial: c.backoff_initial,
            backoff_max: c.backoff_max,
            stream_buffer: 64,
            live_buffer: 1024,
            tls: TlsOptions::default(),
            log_values: false,
            ws_connections: 4,
        }
    }
}

impl Options {
    /// Sets [`Options::connect_timeout`].
    pub fn connect_timeout(mut self, d: Duration) -> Self {
        self.connect_timeout = d;
        self
    }

    /// Sets [`Options::request_timeout`].
    pub fn request_timeout(mut self, d: Duration) -> Self {
        self.request_timeout = d;
        self
    }

    /// Sets [`Options::ping_interval`].
    pub fn ping_interval(mut self, d: Duration) -> Self {
        self.ping_interval = d;
        self
    }

    /// Turns reconnecting on or off.
    pub fn reconnect(mut self, on: bool) -> Self {
        self.reconnect = on;
        self
    }

    /// Sets the reconnect backoff (first delay, cap).
    pub fn backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.backoff_initial = initial;
        self.backoff_max = max.max(initial);
        self
    }

    /// Sets [`Options::stream_buffer`] (at least 1).
    pub fn stream_buffer(mut self, frames: usize) -> Self {
        self.stream_buffer = frames.max(1);
        self
    }

    /// Sets [`Options::live_buffer`] (at least 1).
    pub fn live_buffer(mut self, notifications: usize) -> Self {
        self.live_buffer = notifications.max(1);
        self
    }

    /// Sets the TLS settings.
    pub fn tls(mut self, tls: TlsOptions) -> Self {
        self.tls = tls;
        self
    }

    /// Sets [`Options::log_values`]: bound values show in request logs and recorders, except
    /// secrets. For debugging; logs are often kept longer and read by more people than data.
    pub fn log_values(mut self, on: bool) -> Self {
        self.log_values = on;
        self
    }

    /// Sets [`Options::ws_connections`] (at least 1).
    pub fn ws_connections(mut self, n: usize) -> Self {
        self.ws_connections = n.max(1);
        self
    }

    /// The connection machine's part of these options.
    pub fn conn_config(&self) -> Config {
        Config {
            request_timeout: self.request_timeout,
            ping_interval: self.ping_interval,
            reconnect: self.reconnect,
            backoff_initial: self.backoff_initial,
            backoff_max: self.backoff_max,
            jitter_seed: None,
        }
    }
}

/// TLS trust and identity for `wss://` / `https://`.
#[derive(Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TlsOptions {
    /// Do not trust the bundled public (webpki) roots; only [`TlsOptions::extra_roots_pem`].
    pub no_public_roots: bool,
    /// Extra trusted CA certificates, PEM (one or more certificates per entry).
    pub extra_roots_pem: Vec<Vec<u8>>,
    /// A client certificate chain and its private key (PEM), for mutual TLS.
    pub client_cert: Option<ClientCert>,
}

impl TlsOptions {
    /// Trusts `pem` (one or more CA certificates) in addition to the public roots.
    pub fn add_root_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.extra_roots_pem.push(pem.into());
        self
    }

    /// Trusts only the extra roots (a private CA).
    pub fn only_extra_roots(mut self) -> Self {
        self.no_public_roots = true;
        self
    }

    /// Presents a client certificate (mutual TLS).
    pub fn client_cert(
        mut self,
        chain_pem: impl Into<Vec<u8>>,
        key_pem: impl Into<Vec<u8>>,
    ) -> Self {
        self.client_cert = Some(ClientCert {
            chain_pem: chain_pem.into(),
            key_pem: key_pem.into(),
        });
        self
    }
}

impl fmt::Debug for TlsOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsOptions")
            .field("no_public_roots", &self.no_public_roots)
            .field("extra_roots", &self.extra_roots_pem.len())
            .field("client_cert", &self.client_cert)
            .finish()
    }
}

/// A client certificate chain and private key, PEM. The key never appears in `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientCert {
    /// The certificate chain, PEM.
    pub chain_pem: Vec<u8>,
    /// The private key, PEM (a secret).
    pub key_pem: Vec<u8>,
}

impl fmt::Debug for ClientCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCert")
            .field("chain_pem", &format_args!("{} bytes", self.chain_pem.len()))
            .field("key_pem", &"<redacted>")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_private_key_never_prints() {
        let o = Options::default().tls(TlsOptions::default().client_cert(
            b"-----BEGIN CERTIFICATE-----".to_vec(),
            b"-----BEGIN PRIVATE KEY-----SECRETKEY".to_vec(),
        ));
        let text = format!("{o:?}");
        assert!(!text.contains("SECRETKEY"), "{text}");
        assert!(text.contains("<redacted>"), "{text}");
    }

    #[test]
    fn buffers_are_at_least_one() {
        let o = Options::default().stream_buffer(0).live_buffer(0);
        assert_eq!((o.stream_buffer, o.live_buffer), (1, 1));
    }
}
