//! Nonces for sealing and wrapping, drawn from the OS random number generator a block at
//! a time.
//!
//! A bulk import seals millions of fields; one `getrandom` system call per 24-byte nonce
//! was a measurable part of it. Each thread keeps a block of OS randomness and hands every
//! byte out once, so nonces are exactly as random as before, with one call per 170 of them.
//! Nonces are public (each ciphertext carries its own), so a block of future nonces in
//! memory reveals nothing. The process never forks (a forked child would share the block).

use std::cell::RefCell;

use crate::secret::fill_or_panic;

/// Length of an XChaCha20-Poly1305 nonce.
pub(crate) const NONCE_LEN: usize = 24;

/// Nonces per block.
const PER_BLOCK: usize = 170;

struct Block {
    bytes: [u8; NONCE_LEN * PER_BLOCK],
    /// How many bytes have been handed out.
    used: usize,
}

thread_local! {
    static BLOCK: RefCell<Block> = const {
        RefCell::new(Block { bytes: [0; NONCE_LEN * PER_BLOCK], used: NONCE_LEN * PER_BLOCK })
    };
}

/// A fresh random nonce.
///
/// # Panics
///
/// When the OS random number generator fails (see [`fill_or_panic`]).
pub(crate) fn fresh() -> [u8; NONCE_LEN] {
    BLOCK.with(|block| {
        let mut block = block.borrow_mut();
        if block.used == block.bytes.len() {
            fill_or_panic(&mut block.bytes);
            block.used = 0;
        }
        let mut nonce = [0; NONCE_LEN];
        let start = block.used;
        nonce.copy_from_slice(&block.bytes[start..start + NONCE_LEN]);
        // Handed out once: the copy in the block is cleared.
        block.bytes[start..start + NONCE_LEN].fill(0);
        block.used += NONCE_LEN;
        nonce
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    #[test]
    fn nonces_never_repeat_across_blocks_and_threads() {
        let collect = || (0..1_000).map(|_| super::fresh()).collect::<Vec<_>>();
        let other = std::thread::spawn(collect);
        let mut seen: HashSet<[u8; super::NONCE_LEN]> = collect().into_iter().collect();
        assert_eq!(seen.len(), 1_000, "a nonce repeated within one thread");
        for nonce in other.join().expect("the other thread") {
            assert!(seen.insert(nonce), "a nonce repeated across threads");
        }
        assert!(seen.iter().all(|n| n.iter().any(|b| *b != 0)));
    }
}
