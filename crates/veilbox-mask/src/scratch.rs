//! Buffers reused from one scan to the next on the same thread.
//!
//! A scan of a 1 KiB message fills about a dozen vectors (cue hits, candidates, the word
//! table, the resolver's keys); allocating and freeing them for every message cost more
//! than some whole passes. [`Scanner::scan`](crate::Scanner::scan) takes them from a
//! thread-local [`Scratch`] (empty, with the capacity earlier scans left) and gives them
//! back. The scanner itself stays `Send + Sync` and stateless: nothing in the scratch
//! outlives a scan but capacity, and a scan on a thread that is being torn down simply
//! allocates afresh.

use std::cell::RefCell;

use crate::cues::CueHit;
use crate::scan::Cand;
use crate::words::Word;

/// The word table's vectors (see [`crate::lexicon::WordTable`]).
#[derive(Default)]
pub(crate) struct TableBuffers {
    pub(crate) words: Vec<Word>,
    pub(crate) buf: String,
    pub(crate) spans: Vec<(u32, u32)>,
    pub(crate) flags: Vec<u32>,
}

#[derive(Default)]
pub(crate) struct Scratch {
    pub(crate) hits: Vec<CueHit>,
    pub(crate) cands: Vec<Cand>,
    pub(crate) plain: Vec<Word>,
    pub(crate) table: TableBuffers,
    pub(crate) keys: Vec<u128>,
    pub(crate) taken: Vec<Cand>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// A buffer larger than this (in bytes) is freed rather than kept: one huge message must
/// not pin its memory for the life of the thread.
const KEEP_AT_MOST: usize = 64 * 1024;

fn keep<T>(v: &mut Vec<T>) {
    if v.capacity() * std::mem::size_of::<T>() > KEEP_AT_MOST {
        *v = Vec::new();
    } else {
        v.clear();
    }
}

impl Scratch {
    /// This thread's buffers, all empty.
    pub(crate) fn take() -> Scratch {
        SCRATCH.try_with(RefCell::take).unwrap_or_default()
    }

    /// Gives the buffers back to this thread, cleared.
    pub(crate) fn give_back(mut self) {
        keep(&mut self.hits);
        keep(&mut self.cands);
        keep(&mut self.plain);
        keep(&mut self.table.words);
        keep(&mut self.table.spans);
        keep(&mut self.table.flags);
        keep(&mut self.keys);
        keep(&mut self.taken);
        if self.table.buf.capacity() > KEEP_AT_MOST {
            self.table.buf = String::new();
        } else {
            self.table.buf.clear();
        }
        // fails only while the thread is torn down: the buffers are then freed
        let _ = SCRATCH.try_with(|s| s.replace(self));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_come_back_empty_and_big_ones_are_freed() {
        let mut s = Scratch::take();
        s.hits.reserve(10);
        s.keys.extend([1u128, 2, 3]);
        s.table.buf.push_str("abc");
        s.taken.reserve(KEEP_AT_MOST);
        s.give_back();
        let s = Scratch::take();
        assert!(s.keys.is_empty() && s.keys.capacity() >= 3);
        assert!(s.table.buf.is_empty());
        assert!(s.hits.capacity() >= 10);
        assert_eq!(s.taken.capacity(), 0);
        // taken twice without giving back: the second gets fresh buffers
        assert_eq!(Scratch::take().keys.capacity(), 0);
        s.give_back();
    }
}
