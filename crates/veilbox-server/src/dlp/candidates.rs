//! Where in a draft an address or a company link may be. Pure; spans are byte ranges.

/// At most this many address candidates per draft: a 4096-character reply stays cheap to
/// check, and a real address is found long before.
const MAX_CANDIDATES: usize = 3000;

/// Comma-, semicolon- or newline-separated parts joined into one candidate at most.
const MAX_PARTS: usize = 6;

/// Spans of the draft that could be an address someone has on file: runs of up to six
/// consecutive comma/newline-separated parts, each run starting at the start of a part or
/// at a word that starts with a digit (a house number after "deliver to"), plus `found`
/// (the scanner's address findings). Whether any of them is an address is for the blind
/// index to say: candidates that do not normalise to one are dropped there.
pub fn address_candidates(text: &str, found: &[(usize, usize)]) -> Vec<(usize, usize)> {
    let parts = parts(text);
    let mut out: Vec<(usize, usize)> = found.to_vec();
    for (i, &(start, end)) in parts.iter().enumerate() {
        let mut starts = vec![start];
        starts.extend(digit_words(text, start, end).filter(|&s| s != start));
        for s in starts {
            for &(_, e) in parts.iter().skip(i).take(MAX_PARTS) {
                if out.len() >= MAX_CANDIDATES {
                    return out;
                }
                out.push((s, e));
            }
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// The trimmed, non-empty parts of `text` between `,`, `;` and newlines.
fn parts(text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut from = 0;
    for (i, c) in text
        .char_indices()
        .chain(std::iter::once((text.len(), '\n')))
    {
        if matches!(c, ',' | ';' | '\n') {
            let piece = &text[from..i];
            let lead = piece.len() - piece.trim_start().len();
            let trimmed = piece.trim();
            if !trimmed.is_empty() {
                out.push((from + lead, from + lead + trimmed.len()));
            }
            from = i + c.len_utf8();
        }
    }
    out
}

/// Starts of the words of `text[start..end]` whose first character is a digit.
fn digit_words(text: &str, start: usize, end: usize) -> impl Iterator<Item = usize> + '_ {
    let piece = &text[start..end];
    piece.char_indices().filter_map(move |(i, c)| {
        let at_word = i == 0 || piece[..i].ends_with(char::is_whitespace);
        (at_word && c.is_ascii_digit()).then_some(start + i)
    })
}

/// Spans of links to (and bare host names of) the company's own domains, e.g.
/// `https://track.courier.example/EE123` when `courier.example` is configured.
pub fn company_links(text: &str, domains: &[String]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut offset = 0;
    for word in text.split_inclusive(char::is_whitespace) {
        let start = offset;
        offset += word.len();
        let token = word
            .trim_end()
            .trim_end_matches(['.', ',', ';', ':', '!', '?', ')']);
        let lower = token.to_ascii_lowercase();
        let rest = lower
            .strip_prefix("https://")
            .or_else(|| lower.strip_prefix("http://"))
            .unwrap_or(&lower);
        let host = rest.split(['/', '?', '#', ':']).next().unwrap_or("");
        if is_company_host(host, domains) {
            out.push((start, start + token.len()));
        }
    }
    out
}

/// `host` is one of `domains` or a subdomain of one.
pub fn is_company_host(host: &str, domains: &[String]) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    !host.is_empty()
        && domains
            .iter()
            .any(|d| host == *d || host.ends_with(&format!(".{d}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts<'t>(text: &'t str, spans: &[(usize, usize)]) -> Vec<&'t str> {
        spans.iter().map(|&(s, e)| &text[s..e]).collect()
    }

    #[test]
    fn candidates_cover_a_pasted_address_and_its_street_line() {
        let text = "Hi, please deliver to 12 Elm Road, Leeds LS1 4AB, thanks";
        let got = texts(text, &address_candidates(text, &[]));
        assert!(got.contains(&"12 Elm Road, Leeds LS1 4AB"), "{got:?}");
        assert!(got.contains(&"12 Elm Road"), "{got:?}");
    }

    #[test]
    fn company_links_are_found_by_host() {
        let domains = vec!["courier.example".to_owned()];
        let text = "Track it at https://track.courier.example/EE1. Not evil.example/x";
        assert_eq!(
            texts(text, &company_links(text, &domains)),
            ["https://track.courier.example/EE1"]
        );
        assert!(!is_company_host("notcourier.example", &domains));
    }
}
