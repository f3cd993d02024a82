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
    let b = t.as_bytes();
    let n = b.len();
    let mut i = 0;
    while i < n {
        // skip to a word start
        while i < n && b[i] < 0x80 && !b[i].is_ascii_alphanumeric() {
            i += 1;
        }
        if i >= n {
            break;
        }
        if b[i] >= 0x80 {
            let c = t[i..].chars().next().unwrap_or(' ');
            if !c.is_alphanumeric() {
                i += c.len_utf8();
                continue;
            }
        }
        let s = i;
        loop {
            if i >= n {
                break;
            }
            let c = b[i];
            if c < 0x80 {
                if c.is_ascii_alphanumeric() {
                    i += 1;
                    continue;
                }
                // inner apostrophe or hyphen between letters
                if (c == b'\'' || c == b'-')
                    && i > s
                    && b[i - 1].is_ascii_alphabetic()
                    && i + 1 < n
                    && b[i + 1].is_ascii_alphabetic()
                {
                    i += 1;
                    continue;
                }
                break;
            }
            let ch = t[i..].chars().next().unwrap_or(' ');
            if ch.is_alphanumeric() {
                i += ch.len_utf8();
                continue;
            }
            break;
        }
        out.push(Word { s, e: i });
    }
}
