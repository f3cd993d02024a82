//! The one error type of the crate. Messages never carry key material or plaintext.

/// What went wrong in the vault.
///
/// [`VaultError::Open`] deliberately says nothing about *why* a ciphertext did not open
/// (wrong key, moved to another row, tampered, truncated, not a ciphertext at all): the
/// distinction would help an attacker probing the store and never helps the caller.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    /// A sealed field or a wrapped key did not open.
    #[error("could not open the sealed value (wrong key, wrong place, or damaged)")]
    Open,
    /// A wrapped key names a master key this vault does not hold.
    #[error("no known master key has id {0}")]
    UnknownMasterKey(String),
    /// A master key's text form is malformed.
    #[error("not a Veilbox master key (expected \"vbk1:\" followed by 43 base64url characters)")]
    BadKey,
    /// A key file is readable or writable by others than its owner.
    #[error("{0}")]
    Permissions(String),
    /// Reading or writing a key file failed.
    #[error("key file: {0}")]
    Io(#[from] std::io::Error),
    /// The operating system's random number generator failed.
    #[error("the operating system's random number generator failed")]
    Randomness,
}
