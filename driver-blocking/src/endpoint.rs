//! Where to connect: the core's URL parser ([`proto::endpoint`]), shared with the smol
//! driver so both accept exactly the same URLs.

pub(crate) use proto::endpoint::{Endpoint, EndpointError};

impl From<EndpointError> for crate::Error {
    fn from(e: EndpointError) -> Self {
        crate::Error::InvalidUrl {
            url: e.url,
            reason: e.reason,
        }
    }
}
