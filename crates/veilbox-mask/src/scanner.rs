//! The scanner: built once, shared by every thread, one call per message.

use regex_automata::meta::Regex;

use crate::config::{ConfigError, ScannerConfig};
use crate::cues::Cues;
use crate::hints::Hints;
use crate::lexicon::{Lexicon, WordTable};
use crate::scan::{Cand, Ctx};
use crate::scratch::Scratch;
use crate::{address, hints, normalize, person, Finding, Kind};

/// Finds sensitive data in messages. Build it once ([`Scanner::new`]) and share it: it is
/// `Send + Sync`, holds no per-message state, and [`Scanner::scan`] takes `&self`.
pub struct Scanner {
    cues: Cues,
    lexicon: Lexicon,
    tracking: Option<Regex>,
    disabled: [bool; Kind::COUNT],
}

impl std::fmt::Debug for Scanner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scanner")
            .field("disabled", &self.disabled)
            .finish_non_exhaustive()
    }
}

const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Scanner>();
};

impl Scanner {
    /// Builds a scanner. Fails only if a configured tracking format is not a valid regular
    /// expression.
    pub fn new(config: ScannerConfig) -> Result<Scanner, ConfigError> {
        let cues = Cues::new().map_err(|e| ConfigError::new(format!("cue automaton: {e}")))?;
        let tracking = if config.tracking_formats.is_empty() {
            None
        } else {
            let pats: Vec<&str> = config.tracking_formats.iter().map(String::as_str).collect();
            Some(
                Regex::new_many(&pats)
                    .map_err(|e| ConfigError::new(format!("tracking format: {e}")))?,
            )
        };
        let mut disabled = [false; Kind::COUNT];
        for k in config.disabled {
            disabled[k.index()] = true;
        }
        Ok(Scanner {
            cues,
            lexicon: Lexicon::new(),
            tracking,
            disabled,
        })
    }

    /// Finds everything sensitive (and every tracking number and order id) in `text`.
    ///
    /// Findings are sorted by `start`, never overlap, and their byte spans lie on `char`
    /// boundaries of `text`. The cost is linear in the length of `text`.
    pub fn scan(&self, text: &str, hints: &Hints) -> Vec<Finding> {
        let mut scratch = Scratch::take();
        let folded = normalize::fold(text);
        let t: &str = &folded.text;
        let mut hits = std::mem::take(&mut scratch.hits);
        // about one cue per 20 bytes of chat: sized so that a message rarely regrows it
        hits.reserve(16 + t.len() / 16);
        self.cues.find(t, &mut hits);
        let mut ctx = Ctx::new(
            t,
            &hits,
            self.tracking.as_ref(),
            std::mem::take(&mut scratch.cands),
            std::mem::take(&mut scratch.plain),
        );
        ctx.lex();
        ctx.after_cues(&self.lexicon);
        let wt = WordTable::new(
            t,
            &self.lexicon,
            &ctx.plain,
            std::mem::take(&mut scratch.table),
        );
        person::persons(&mut ctx, &wt);
        address::addresses(&mut ctx, &wt);
        if !hints.is_empty() {
            hints::find(&mut ctx, &wt, hints);
        }
        let cands = std::mem::take(&mut ctx.cands);
        scratch.plain = std::mem::take(&mut ctx.plain);
        scratch.table = wt.into_buffers();
        let chosen = resolve(
            &cands,
            &mut scratch.keys,
            std::mem::take(&mut scratch.taken),
        );
        let mut out = Vec::with_capacity(chosen.len());
        // `chosen` is sorted by start
        let mut cursor = 0;
        for c in &chosen {
            if self.disabled[c.kind.index()] {
                continue;
            }
            let (mut s, mut e) = folded.original_in_order(c.s, c.e, &mut cursor);
            while s > 0 && !text.is_char_boundary(s) {
                s -= 1;
            }
            while e < text.len() && !text.is_char_boundary(e) {
                e += 1;
            }
            let e = e.min(text.len());
            if s < e {
                out.push(Finding {
                    kind: c.kind,
                    start: s,
                    end: e,
                    confidence: c.conf,
                    why: c.why,
                });
            }
        }
        scratch.hits = hits;
        scratch.cands = cands;
        scratch.taken = chosen;
        scratch.give_back();
        out
    }
}

/// Keeps the best of overlapping candidates: higher priority, then confidence, then length.
/// `keys` and `taken` are buffers (see [`crate::scratch`]); the result is `taken`, filled.
fn resolve(cands: &[Cand], keys: &mut Vec<u128>, taken: Vec<Cand>) -> Vec<Cand> {
    let packed = cands.len() < 1 << 24;
    resolve_by(cands, packed, keys, taken)
}

/// [`resolve`], with the index packed into the sort key or (`packed` false, needed for
/// 2^24 candidates or more) beside it: the same order either way.
fn resolve_by(
    cands: &[Cand],
    packed: bool,
    keys: &mut Vec<u128>,
    mut taken: Vec<Cand>,
) -> Vec<Cand> {
    // kept sorted by start and non-overlapping: a few dozen entries at most, so a sorted
    // vector with binary search beats a tree (no allocation per node)
    taken.clear();
    taken.reserve(cands.len());
    let mut consider = |c: Cand| {
        let before = taken.partition_point(|p| p.s < c.e);
        if before > 0 && taken[before - 1].e > c.s {
            return;
        }
        let at = taken.partition_point(|p| p.s < c.s);
        if taken.get(at).is_some_and(|p| p.s == c.s) {
            taken[at] = c;
        } else {
            taken.insert(at, c);
        }
    };
    // the order (higher priority, higher confidence, longer, earlier, then first found)
    // packed into one integer key per candidate: an unstable sort of integers, with the
    // index as the last key, gives the order of a stable sort by the same comparisons
    if packed {
        // the rank takes the low 104 bits: with the index in the 24 bits below it, one
        // `u128` per candidate, compared in one go
        keys.clear();
        keys.extend(
            cands
                .iter()
                .enumerate()
                .map(|(i, c)| rank(c) << 24 | i as u128),
        );
        keys.sort_unstable();
        for &k in keys.iter() {
            consider(cands[(k & 0xff_ffff) as usize]);
        }
    } else {
        let mut keys: Vec<(u128, u32)> = cands
            .iter()
            .enumerate()
            .map(|(i, c)| (rank(c), i as u32))
            .collect();
        keys.sort_unstable();
        for (_, i) in keys {
            consider(cands[i as usize]);
        }
    }
    taken
}

/// The sort key of a candidate, smaller first: priority descending, confidence descending
/// (in `f32::total_cmp` order), length descending, start ascending. Offsets fit in 32 bits
/// (the folding map keeps them as `u32` too). The key takes the low 104 bits.
fn rank(c: &Cand) -> u128 {
    // `f32::total_cmp`'s order as an unsigned integer
    let bits = c.conf.to_bits() as i32;
    let conf = ((bits ^ (((bits >> 31) as u32) >> 1) as i32) as u32) ^ 0x8000_0000;
    let len = (c.e - c.s) as u32;
    (u128::from(u8::MAX - c.prio) << 96)
        | (u128::from(!conf) << 64)
        | (u128::from(!len) << 32)
        | u128::from(c.s as u32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Why;

    #[test]
    fn packed_and_plain_keys_resolve_alike() {
        // ties on every key but the index: the first found must win either way
        let mut cands = Vec::new();
        for i in 0..300usize {
            let s = (i * 7919) % 97;
            cands.push(Cand {
                kind: Kind::ALL[i % Kind::ALL.len()],
                s,
                e: s + 1 + i % 5,
                conf: [0.5, 0.9, 0.9, -0.0, 0.0][i % 5],
                why: Why::Lexicon,
                prio: [40, 80, 80, 90][i % 4],
            });
        }
        let a = resolve_by(&cands, true, &mut Vec::new(), Vec::new());
        let b = resolve_by(&cands, false, &mut Vec::new(), Vec::new());
        let key = |c: &Cand| (c.kind, c.s, c.e, c.conf.to_bits(), c.prio);
        assert_eq!(
            a.iter().map(key).collect::<Vec<_>>(),
            b.iter().map(key).collect::<Vec<_>>()
        );
    }

    #[test]
    fn rank_orders_as_the_comparisons() {
        let mk = |prio, conf, s, e| Cand {
            kind: Kind::Phone,
            s,
            e,
            conf,
            why: Why::Lexicon,
            prio,
        };
        let cands = [
            mk(80, 0.9, 5, 10),
            mk(80, 0.95, 5, 10),
            mk(90, 0.1, 0, 1),
            mk(80, 0.9, 3, 10),
            mk(80, 0.9, 2, 9),
            mk(80, -0.5, 2, 9),
            mk(80, 0.0, 2, 9),
            mk(80, -0.0, 2, 9),
            mk(40, 1.0, 0, 100),
        ];
        for a in &cands {
            for b in &cands {
                let want = b
                    .prio
                    .cmp(&a.prio)
                    .then(b.conf.total_cmp(&a.conf))
                    .then((b.e - b.s).cmp(&(a.e - a.s)))
                    .then(a.s.cmp(&b.s));
                assert_eq!(rank(a).cmp(&rank(b)), want);
            }
        }
    }
}
