//! The Veilbox core: domain rules that need no database, network or clock.
//!
//! For now it holds [`credentials`]: how staff passwords are judged and hashed, the TOTP
//! second factor, one-time recovery codes and the random bearer tokens behind sessions,
//! API tokens and set-password links. Everything here is pure: the only thing it reads
//! from the outside world is OS randomness, and the caller passes the time in.
//!
//! # Example
//!
//! ```
//! use veilbox_core::credentials::{password, secret_token, totp::TotpSecret};
//!
//! // Setting a password: judge it, then store only the PHC string.
//! password::check_strength("harbour-lantern-okapi-71", &["mariana@swiftparcel.example"])?;
//! let phc = password::hash("harbour-lantern-okapi-71")?;
//! assert!(password::verify("harbour-lantern-okapi-71", &phc));
//!
//! // Enrolling a second factor: the user scans the QR code, then proves it with a code.
//! let secret = TotpSecret::generate();
//! let now = 1_700_000_000;
//! let step = secret.verify(&secret.code_at(now), now, None);
//! assert_eq!(step, Some(now / 30));
//!
//! // A session: the cookie carries the token, the database only its digest.
//! let session = secret_token::generate("vbs");
//! assert_eq!(secret_token::digest(&session).len(), 64);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![deny(missing_docs)]

pub mod credentials;
