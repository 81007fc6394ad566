//! Where to connect: a SurrealDB URL parsed into scheme, host, port and RPC path. Pure, and
//! shared by both drivers so they accept exactly the same URLs.

/// A URL that cannot be used, with what to write instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid URL {url:?}: {reason}")]
pub struct EndpointError {
    /// The URL given.
    pub url: String,
    /// What is wrong with it.
    pub reason: String,
}

/// The transport a URL selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// `ws://`: WebSocket over plain TCP.
    Ws,
    /// `wss://`: WebSocket over TLS.
    Wss,
    /// `http://`: stateless `POST /rpc`.
    Http,
    /// `https://`: stateless `POST /rpc` over TLS.
    Https,
}

impl Scheme {
    /// 80 for `ws`/`http`, 443 for `wss`/`https`.
    pub fn default_port(self) -> u16 {
        match self {
            Scheme::Ws | Scheme::Http => 80,
            Scheme::Wss | Scheme::Https => 443,
        }
    }

    /// The scheme's text.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Ws => "ws",
            Scheme::Wss => "wss",
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }

    /// Whether the scheme is a WebSocket one.
    pub fn is_ws(self) -> bool {
        matches!(self, Scheme::Ws | Scheme::Wss)
    }

    /// Whether the scheme runs over TLS.
    pub fn is_tls(self) -> bool {
        matches!(self, Scheme::Wss | Scheme::Https)
    }
}

/// A parsed SurrealDB URL. The RPC path is always `…/rpc`: `ws://h:8000`, `ws://h:8000/` and
/// `ws://h:8000/rpc` are the same endpoint; any other path is a prefix (a reverse proxy's
/// mount point), so `wss://h/surreal` means `wss://h/surreal/rpc`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// The transport.
    pub scheme: Scheme,
    /// Host name or IP address; IPv6 addresses without brackets.
    pub host: String,
    /// The TCP port (the scheme's default when the URL has none).
    pub port: u16,
    /// The RPC path, always starting with `/` and ending with `/rpc`.
    pub path: String,
}

impl Endpoint {
    /// Parses `url`; the error names the URL and says what to write instead.
    pub fn parse(url: &str) -> Result<Endpoint, EndpointError> {
        let bad = |reason: String| EndpointError {
            url: url.to_owned(),
            reason,
        };
        let trimmed = url.trim();
        let Some((scheme_text, rest)) = trimmed.split_once("://") else {
            return Err(bad(
                "no scheme; write ws://host:port, wss://…, http://… or https://…".into(),
            ));
        };
        let scheme = match scheme_text.to_ascii_lowercase().as_str() {
            "ws" => Scheme::Ws,
            "wss" => Scheme::Wss,
            "http" => Scheme::Http,
            "https" => Scheme::Https,
            other => {
                return Err(bad(format!(
                    "unsupported scheme `{other}`; use ws://, wss://, http:// or https://"
                )))
            }
        };
        if rest.contains(['?', '#']) {
            return Err(bad(
                "query strings and fragments are not supported in a SurrealDB URL".into(),
            ));
        }
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        if authority.contains('@') {
            return Err(bad(
                "credentials in the URL are not supported; call signin after connecting".into(),
            ));
        }
        let (host, port_text) = if let Some(after_bracket) = authority.strip_prefix('[') {
            let Some((host, tail)) = after_bracket.split_once(']') else {
                return Err(bad("unclosed `[` in an IPv6 address".into()));
            };
            match tail {
                "" => (host, None),
                t => match t.strip_prefix(':') {
                    Some(p) => (host, Some(p)),
                    None => {
                        return Err(bad(format!(
                            "unexpected `{t}` after the IPv6 address; expected `:port`"
                        )))
                    }
                },
            }
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) if !h.contains(':') => (h, Some(p)),
                Some(_) => {
                    return Err(bad(
                        "an IPv6 address must be written in brackets, e.g. ws://[::1]:8000".into(),
                    ))
                }
                None => (authority, None),
            }
        };
        if host.is_empty() {
            return Err(bad("no host".into()));
        }
        let port =
            match port_text {
                None => scheme.default_port(),
                Some(p) => p.parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(|| {
                    bad(format!("port `{p}` is not a number between 1 and 65535"))
                })?,
            };
        let base = path.trim_end_matches('/');
        let path = if base.ends_with("/rpc") {
            base.to_owned()
        } else {
            format!("{base}/rpc")
        };
        Ok(Endpoint {
            scheme,
            host: host.to_owned(),
            port,
            path,
        })
    }

    /// `host:port`, with brackets around an IPv6 address.
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The server's HTTP base URL (`ws` becomes `http`, `/rpc` is dropped), e.g.
    /// `http://127.0.0.1:8000` for `ws://127.0.0.1:8000/rpc`.
    pub fn base_url(&self) -> String {
        let scheme = if self.scheme.is_tls() {
            "https"
        } else {
            "http"
        };
        let prefix = self.path.strip_suffix("/rpc").unwrap_or(&self.path);
        format!("{scheme}://{}{prefix}", self.authority())
    }

    /// The full RPC URL, e.g. `ws://127.0.0.1:8000/rpc`.
    pub fn rpc_url(&self) -> String {
        format!(
            "{}://{}{}",
            self.scheme.as_str(),
            self.authority(),
            self.path
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(url: &str) -> Endpoint {
        Endpoint::parse(url).unwrap_or_else(|e| panic!("{url}: {e}"))
    }

    fn reason(url: &str) -> String {
        match Endpoint::parse(url) {
            Err(EndpointError { url: u, reason }) => {
                assert_eq!(u, url);
                reason
            }
            other => panic!("{url}: expected InvalidUrl, got {other:?}"),
        }
    }

    #[test]
    fn rpc_path_is_added_once() {
        assert_eq!(
            ok("ws://127.0.0.1:8000").rpc_url(),
            "ws://127.0.0.1:8000/rpc"
        );
        assert_eq!(
            ok("ws://127.0.0.1:8000/").rpc_url(),
            "ws://127.0.0.1:8000/rpc"
        );
        assert_eq!(
            ok("ws://127.0.0.1:8000/rpc").rpc_url(),
            "ws://127.0.0.1:8000/rpc"
        );
        assert_eq!(
            ok("ws://127.0.0.1:8000/rpc/").rpc_url(),
            "ws://127.0.0.1:8000/rpc"
        );
        assert_eq!(
            ok("wss://db.example.com/surreal").rpc_url(),
            "wss://db.example.com:443/surreal/rpc"
        );
    }

    #[test]
    fn base_url_is_http_without_rpc() {
        assert_eq!(
            ok("ws://127.0.0.1:8000/rpc").base_url(),
            "http://127.0.0.1:8000"
        );
        assert_eq!(
            ok("wss://news.example/db").base_url(),
            "https://news.example:443/db"
        );
        assert_eq!(
            ok("http://news.example:8000").base_url(),
            "http://news.example:8000"
        );
    }

    #[test]
    fn schemes_and_default_ports() {
        let e = ok("http://localhost");
        assert_eq!((e.scheme, e.port), (Scheme::Http, 80));
        assert!(!e.scheme.is_ws());
        let e = ok("HTTPS://localhost");
        assert_eq!((e.scheme, e.port), (Scheme::Https, 443));
        assert!(e.scheme.is_tls());
        let e = ok("ws://localhost:8000");
        assert_eq!(
            (e.scheme, e.port, e.host.as_str()),
            (Scheme::Ws, 8000, "localhost")
        );
        assert!(e.scheme.is_ws() && !e.scheme.is_tls());
        assert_eq!(ok("wss://h").scheme, Scheme::Wss);
    }

    #[test]
    fn ipv6_hosts() {
        let e = ok("ws://[::1]:8000");
        assert_eq!((e.host.as_str(), e.port), ("::1", 8000));
        assert_eq!(e.authority(), "[::1]:8000");
        assert_eq!(e.rpc_url(), "ws://[::1]:8000/rpc");
        assert_eq!(ok("http://[::1]").port, 80);
        assert!(reason("ws://::1:8000").contains("brackets"));
        assert!(reason("ws://[::1").contains("unclosed"));
        assert!(reason("ws://[::1]x").contains("expected `:port`"));
    }

    #[test]
    fn bad_urls_say_what_is_wrong() {
        assert!(reason("localhost:8000").contains("no scheme"));
        assert!(reason("ftp://h").contains("unsupported scheme `ftp`"));
        assert!(reason("ws://h:port").contains("port `port`"));
        assert!(reason("ws://h:0").contains("port `0`"));
        assert!(reason("ws://h:70000").contains("port `70000`"));
        assert!(reason("ws://:8000").contains("no host"));
        assert!(reason("ws://").contains("no host"));
        assert!(reason("ws://root:root@h").contains("signin"));
        assert!(reason("ws://h/rpc?x=1").contains("query"));
    }
}
