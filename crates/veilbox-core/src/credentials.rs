//! Proving who a staff member is: passwords, the TOTP second factor, recovery codes and
//! random bearer tokens.
//!
//! Secrets are compared in constant time, drawn from the operating system's random number
//! generator, and stored only as hashes or digests: a copy of the database alone lets no
//! one sign in.

pub mod password;
pub mod recovery;
pub mod secret_token;
pub mod totp;

/// Fills `buf` from the operating system's random number generator.
///
/// # Panics
///
/// If the OS generator fails. On the platforms we run on it does not once the system has
/// booted; and a credential made from weaker randomness would be worse than a crashed
/// request, so there is no fallback.
fn fill_random(buf: &mut [u8]) {
    if let Err(err) = getrandom::fill(buf) {
        panic!("the operating system's random number generator failed: {err}");
    }
}
