//! The scanner: built once, shared by every thread, one call per message.

use regex_automata::meta::Regex;

use crate::config::{ConfigError, ScannerConfig};
use crate::cues::{CueHit, Cues};
use crate::hints::Hints;
use crate::lexicon::{Lexicon, WordTable};
use crate::scan::{Cand, Ctx};
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
        let folded = normalize::fold(text);
        let t: &str = &folded.text;
        let mut hits: Vec<CueHit> = Vec::with_capacity(16);
        self.cues.find(t, &mut hits);
        let mut ctx = Ctx::new(t, &hits, self.tracking.as_ref());
        ctx.lex();
        ctx.after_cues();
        let wt = WordTable::new(t, &self.lexicon);
        person::persons(&mut ctx, &wt);
        address::addresses(&mut ctx, &wt);
        if !hints.is_empty() {
            hints::find(&mut ctx, &wt, hints);
        }
        let chosen = resolve(std::mem::take(&mut ctx.cands));
        let mut out = Vec::with_capacity(chosen.len());
        for c in chosen {
            if self.disabled[c.kind.index()] {
                continue;
            }
            let (mut s, mut e) = folded.original(c.s, c.e);
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
        out
    }
}

/// Keeps the best of overlapping candidates: higher priority, then confidence, then length.
fn resolve(mut cands: Vec<Cand>) -> Vec<Cand> {
    cands.sort_by(|a, b| {
        b.prio
            .cmp(&a.prio)
            .then(b.conf.total_cmp(&a.conf))
            .then((b.e - b.s).cmp(&(a.e - a.s)))
            .then(a.s.cmp(&b.s))
    });
    // kept sorted by start and non-overlapping: a few dozen entries at most, so a sorted
    // vector with binary search beats a tree (no allocation per node)
    let mut taken: Vec<Cand> = Vec::with_capacity(cands.len());
    for c in cands {
        let before = taken.partition_point(|p| p.s < c.e);
        if before > 0 && taken[before - 1].e > c.s {
            continue;
        }
        let at = taken.partition_point(|p| p.s < c.s);
        if taken.get(at).is_some_and(|p| p.s == c.s) {
            taken[at] = c;
        } else {
            taken.insert(at, c);
        }
    }
    taken
}
