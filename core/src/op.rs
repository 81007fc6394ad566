//! Operations: every action of the client, single request or several, as a pure value that
//! emits requests and consumes their answers until it yields its output.
//!
//! A driver runs any operation with one generic loop (`db.perform(op)`): call
//! [`Operation::step`] with no answer, send the [`Step::Send`] request, feed its answer to
//! the next `step`, until [`Step::Done`]. Multi-round-trip actions (sign in then load the
//! user, save then refresh, a prefetch) are small state machines here, not async code, so
//! they behave the same in both drivers and both transports.
//!
//! ```
//! use surql::client::Credentials;
//! use surql::op::{self, Operation, Step};
//! use surql::rpc::{Method, Payload};
//! use surql::Value;
//!
//! let mut op = op::signin_and_load::<Option<Value>>(&Credentials::root("root", "secret"));
//! // step 1: sign in
//! let Step::Send(req) = op.step(None) else { panic!() };
//! assert_eq!(req.method, Method::Signin);
//! // step 2: with the token, load the signed-in record
//! let Step::Send(req) = op.step(Some(Ok(Payload::from(Value::from("eyJ.a.b"))))) else { panic!() };
//! assert_eq!(req.method, Method::Info);
//! // done: a system user has no record
//! let Step::Done(Ok((token, user))) = op.step(Some(Ok(Payload::from(Value::None)))) else { panic!() };
//! assert_eq!(token.access, "eyJ.a.b");
//! assert_eq!(user, None);
//! ```

use serde::de::DeserializeOwned;

use crate::client::{self, Call, Credentials, Decoder, Token};
use crate::error::Error;
use crate::rpc::{Payload, Request};

/// What an operation wants next.
#[derive(Debug)]
pub enum Step<T> {
    /// Send this request and call `step` again with its answer.
    Send(Request),
    /// Finished.
    Done(Result<T, Error>),
}

/// An action that takes one or more round trips. See the module docs.
pub trait Operation {
    /// What it yields.
    type Output;

    /// Advances: `answer` is `None` on the first call, then the answer to the request the
    /// previous step asked to send. After [`Step::Done`] the operation is spent; calling
    /// `step` again yields an error.
    fn step(&mut self, answer: Option<Result<Payload, Error>>) -> Step<Self::Output>;
}

/// Anything a driver can run: an [`Operation`], or a single [`Call`].
pub trait IntoOperation {
    /// The operation.
    type Op: Operation;
    /// Converts.
    fn into_operation(self) -> Self::Op;
}

impl<O: Operation> IntoOperation for O {
    type Op = O;
    fn into_operation(self) -> O {
        self
    }
}

impl<T: 'static> IntoOperation for Call<T> {
    type Op = Single<T>;
    fn into_operation(self) -> Single<T> {
        let (request, decode) = self.into_parts();
        Single {
            state: SingleState::Ready(request, decode),
        }
    }
}

/// One request, one answer: a [`Call`] as an operation.
pub struct Single<T> {
    state: SingleState<T>,
}

enum SingleState<T> {
    Ready(Request, Decoder<T>),
    Waiting(Decoder<T>),
    Spent,
}

impl<T> std::fmt::Debug for Single<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match &self.state {
            SingleState::Ready(r, _) => r.method.as_str(),
            SingleState::Waiting(_) => "waiting",
            SingleState::Spent => "spent",
        };
        f.debug_struct("Single").field("state", &state).finish()
    }
}

fn spent<T>() -> Step<T> {
    Step::Done(Err(Error::Protocol(
        "an operation was stepped after it finished (a driver bug)".into(),
    )))
}

impl<T> Operation for Single<T> {
    type Output = T;

    fn step(&mut self, answer: Option<Result<Payload, Error>>) -> Step<T> {
        match (
            std::mem::replace(&mut self.state, SingleState::Spent),
            answer,
        ) {
            (SingleState::Ready(request, decode), None) => {
                self.state = SingleState::Waiting(decode);
                Step::Send(request)
            }
            (SingleState::Waiting(decode), Some(Ok(payload))) => {
                Step::Done(decode(payload).map_err(Error::from))
            }
            (SingleState::Waiting(_), Some(Err(e))) => Step::Done(Err(e)),
            _ => spent(),
        }
    }
}

/// Signs in, then loads the signed-in record (`info`) in the same session: two round
/// trips, one operation. Yields the token and the record (`None`/NONE for system users,
/// so use `Option<T>` unless the credentials are a record user's).
pub fn signin_and_load<T: DeserializeOwned + 'static>(creds: &Credentials) -> SigninAndLoad<T> {
    SigninAndLoad {
        state: LoadState::Start(client::signin(creds)),
    }
}

/// The operation of [`signin_and_load`].
pub struct SigninAndLoad<T> {
    state: LoadState<T>,
}

enum LoadState<T> {
    Start(Call<Token>),
    SigningIn(Decoder<Token>),
    Loading(Token, Decoder<T>),
    Spent,
}

impl<T> std::fmt::Debug for SigninAndLoad<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match &self.state {
            LoadState::Start(_) => "start",
            LoadState::SigningIn(_) => "signing in",
            LoadState::Loading(..) => "loading the record",
            LoadState::Spent => "spent",
        };
        f.debug_struct("SigninAndLoad")
            .field("state", &state)
            .finish()
    }
}

impl<T: DeserializeOwned + 'static> Operation for SigninAndLoad<T> {
    type Output = (Token, T);

    fn step(&mut self, answer: Option<Result<Payload, Error>>) -> Step<(Token, T)> {
        match (std::mem::replace(&mut self.state, LoadState::Spent), answer) {
            (LoadState::Start(call), None) => {
                let (request, decode) = call.into_parts();
                self.state = LoadState::SigningIn(decode);
                Step::Send(request)
            }
            (LoadState::SigningIn(decode), Some(Ok(payload))) => match decode(payload) {
                Ok(token) => {
                    let (request, decode) = client::info::<T>().into_parts();
                    self.state = LoadState::Loading(token, decode);
                    Step::Send(request)
                }
                Err(e) => Step::Done(Err(e.into())),
            },
            (LoadState::Loading(token, decode), Some(Ok(payload))) => {
                Step::Done(decode(payload).map(|t| (token, t)).map_err(Error::from))
            }
            (LoadState::SigningIn(_) | LoadState::Loading(..), Some(Err(e))) => Step::Done(Err(e)),
            _ => spent(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rpc::{ErrorKind, Method, ServerError};
    use crate::value::Value;

    /// Runs `op` against scripted answers, returning the methods it sent and its output.
    fn drive<O: Operation>(
        mut op: O,
        answers: Vec<Result<Value, Error>>,
    ) -> (Vec<Method>, Result<O::Output, Error>) {
        let mut sent = Vec::new();
        let mut answers = answers.into_iter();
        let mut answer = None;
        loop {
            match op.step(answer.take()) {
                Step::Send(r) => {
                    sent.push(r.method);
                    answer = Some(
                        answers
                            .next()
                            .expect("the script has an answer")
                            .map(Payload::from),
                    );
                }
                Step::Done(out) => {
                    // spent afterwards
                    assert!(matches!(op.step(None), Step::Done(Err(Error::Protocol(_)))));
                    return (sent, out);
                }
            }
        }
    }

    #[test]
    fn a_call_is_a_one_step_operation() {
        let (sent, out) = drive(client::version().into_operation(), vec![Ok("v3".into())]);
        assert_eq!(sent, [Method::Version]);
        assert_eq!(out.unwrap(), "v3");
        let boom = Error::Server(ServerError::new(ErrorKind::Internal, "boom"));
        let (_, out) = drive(client::ping().into_operation(), vec![Err(boom.clone())]);
        assert_eq!(out.unwrap_err(), boom);
    }

    #[test]
    fn signin_and_load_takes_two_round_trips() {
        let mut user = crate::value::Object::new();
        user.insert("name".into(), Value::from("ada"));
        let (sent, out) = drive(
            signin_and_load::<Option<Value>>(&Credentials::root("u", "p")),
            vec![Ok("tok".into()), Ok(Value::Object(user.clone()))],
        );
        assert_eq!(sent, [Method::Signin, Method::Info]);
        let (token, loaded) = out.unwrap();
        assert_eq!(token.access, "tok");
        assert_eq!(loaded, Some(Value::Object(user)));
    }

    #[test]
    fn a_failed_signin_stops_before_loading() {
        let denied = Error::Server(ServerError::new(ErrorKind::NotAllowed, "no"));
        let (sent, out) = drive(
            signin_and_load::<Option<Value>>(&Credentials::root("u", "bad")),
            vec![Err(denied.clone())],
        );
        assert_eq!(sent, [Method::Signin]);
        assert_eq!(out.unwrap_err(), denied);
    }
}
