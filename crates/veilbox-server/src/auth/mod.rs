//! Who is asking, and may they: browser sessions, API tokens, and the one authorizer.
//!
//! Every route that is not public by design takes [`SignedIn`] (pages) or [`ApiCaller`]
//! (JSON API) and asks [`Access`] before it reads or changes anything. The route inventory
//! test (`tests/access_http.rs`) fails when a route is added without an access decision, and
//! checks that every authorised route refuses a request without a session or token.

pub mod access;
pub mod caller;
pub mod client;
pub mod session;

pub use access::{Access, Actor};
pub use caller::ApiCaller;
pub use client::Client;
pub use session::{Flash, PendingSignIn, Refused, SignedIn};
