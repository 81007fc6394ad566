//! Request logging: the `surql.request` span and event (target `surql`, level DEBUG) around
//! every request, and the client's recorders. What a request may show is decided by the core
//! ([`surql::log`]); this file times the request and hands the result on.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use surql::log::{Recorder, Recorders, RequestLog};
use surql::rpc::{Payload, Request};
use surql::Result;
use tracing::{field, Instrument, Level, Span};

/// A client's logging state, shared by its clones.
#[derive(Debug)]
pub(crate) struct Logging {
    recorders: Arc<Recorders>,
    /// [`surql::Options::log_values`].
    values: bool,
}

impl Logging {
    pub(crate) fn new(values: bool) -> Self {
        Logging {
            recorders: Arc::default(),
            values,
        }
    }

    pub(crate) fn record(&self) -> Recorder {
        self.recorders.start()
    }

    /// Whether a `tracing` subscriber wants the requests' spans and events.
    fn traced() -> bool {
        tracing::enabled!(target: "surql", Level::DEBUG)
    }

    /// Whether nobody listens: [`Logging::observe`] would only run the request. One atomic
    /// load and `tracing`'s cached callsite check.
    pub(crate) fn quiet(&self) -> bool {
        !Self::traced() && !self.recorders.is_active()
    }

    /// Runs `send(request)`, logged and recorded when anybody listens. When nobody does, it
    /// costs one atomic load and `tracing`'s cached callsite check: nothing is formatted and
    /// the clock is not read.
    pub(crate) async fn observe<T, F>(
        &self,
        request: Request,
        send: impl FnOnce(Request) -> F,
        payload: fn(&T) -> Option<&Payload>,
    ) -> Result<T>
    where
        F: Future<Output = Result<T>>,
    {
        if self.quiet() {
            return send(request).await;
        }
        let traced = Self::traced();
        let log = RequestLog::new(&request, self.values);
        let span = if traced {
            tracing::debug_span!(
                target: "surql",
                "surql.request",
                method = log.method.as_str(),
                statement = log.text.as_deref(),
                params = log.params.as_str(),
                duration_ms = field::Empty,
                rows = field::Empty,
                error = field::Empty,
            )
        } else {
            Span::none()
        };
        let start = Instant::now();
        let answer = send(request).instrument(span.clone()).await;
        let done = log.finish(start.elapsed(), answer.as_ref().map(payload));
        if !span.is_disabled() {
            let ms = done.duration.as_secs_f64() * 1e3;
            let rows = done.rows.map(|n| n as u64);
            // The event carries the outcome for line-oriented subscribers (`fmt`); the span
            // gets it afterwards for span-oriented ones (OpenTelemetry), so a line does not
            // show it twice.
            tracing::debug!(
                target: "surql",
                parent: &span,
                duration_ms = ms,
                rows,
                error = done.error.as_deref(),
                "request finished"
            );
            span.record("duration_ms", ms);
            span.record("rows", rows);
            span.record("error", done.error.as_deref());
        }
        if self.recorders.is_active() {
            self.recorders.push(done);
        }
        answer
    }
}

/// For [`Logging::observe`]: the answer of a request whose rows can be counted.
pub(crate) fn payload(p: &Payload) -> Option<&Payload> {
    Some(p)
}

/// For [`Logging::observe`]: the answer of a request that opens a stream (no rows yet).
pub(crate) fn no_payload<T>(_: &T) -> Option<&Payload> {
    None
}
