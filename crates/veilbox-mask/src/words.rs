//! Words of the folded text for the name and address recognisers: runs of letters and
//! digits in any script, with inner apostrophes and hyphens ("O'Brien", "Jean-Pierre").

/// A word's byte span.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Word {
    pub(crate) s: usize,
    pub(crate) e: usize,
}

/// Splits `t` into words.
pub(crate) fn words(t: &str, out: &mut Vec<Word>) {
    let mut start: Option<usize> = None;
    let mut it = t.char_indices().peekable();
    while let Some((i, c)) = it.next() {
        let inner = matches!(c, '\'' | '’' | '-')
            && start.is_some()
            && it.peek().is_some_and(|&(_, n)| n.is_alphabetic())
            && t[..i].chars().next_back().is_some_and(char::is_alphabetic);
        if c.is_alphanumeric() || inner {
            if start.is_none() {
                start = Some(i);
            }
        } else if let Some(s) = start.take() {
            out.push(Word { s, e: i });
        }
    }
    if let Some(s) = start {
        out.push(Word { s, e: t.len() });
    }
}
