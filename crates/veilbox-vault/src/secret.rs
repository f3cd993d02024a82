//! Key bytes on the heap, wiped on drop, and the one door to the OS random number generator.

use zeroize::Zeroize;

use crate::VaultError;

/// 32 secret bytes. Boxed so that moving a key moves a pointer, not copies of the bytes
/// left behind on the stack; zeroed when dropped.
pub(crate) struct Secret32(Box<[u8; 32]>);

impl Secret32 {
    pub(crate) fn zeroed() -> Self {
        Self(Box::new([0; 32]))
    }

    /// Fresh random bytes, or [`VaultError::Randomness`].
    pub(crate) fn random() -> Result<Self, VaultError> {
        let mut secret = Self::zeroed();
        getrandom::fill(&mut secret.0[..]).map_err(|_| VaultError::Randomness)?;
        Ok(secret)
    }

    /// Fresh random bytes for the infallible constructors.
    ///
    /// # Panics
    ///
    /// When the OS random number generator fails: a key made without it would be guessable.
    pub(crate) fn random_or_panic() -> Self {
        let mut secret = Self::zeroed();
        fill_or_panic(&mut secret.0[..]);
        secret
    }

    pub(crate) fn bytes(&self) -> &[u8; 32] {
        &self.0
    }

    pub(crate) fn bytes_mut(&mut self) -> &mut [u8; 32] {
        &mut self.0
    }

    /// A second copy, for the rare places that need one (a vault ring being extended).
    pub(crate) fn duplicate(&self) -> Self {
        let mut copy = Self::zeroed();
        copy.0.copy_from_slice(&self.0[..]);
        copy
    }
}

impl Drop for Secret32 {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

/// Fills `buf` from the OS random number generator.
///
/// # Panics
///
/// When the generator fails. Sealing and wrapping need a fresh nonce and have no safe
/// fallback (a repeated nonce reveals plaintext), and on the platforms we run on the
/// generator only fails when the machine is broken.
pub(crate) fn fill_or_panic(buf: &mut [u8]) {
    if let Err(err) = getrandom::fill(buf) {
        panic!("veilbox-vault: the operating system's random number generator failed: {err}");
    }
}
