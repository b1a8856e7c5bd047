//! Short job ids that tell jobs apart, the same rule in every pdfctl table and prompt.
//!
//! Job ids are UUIDv7: their first 12 hex digits are a millisecond timestamp, so jobs made
//! together share their first characters. Their last 8 hex digits are random (the `uuid`
//! crate's v7 layout: timestamp, counter, then random bits), so the end of an id is what
//! tells jobs apart. A listing shows the same number of last digits for every id: at least
//! [`MIN_LEN`], more when two listed ids would otherwise look alike.

use pdfq_domain::JobId;

/// Digits shown at least: 24 random bits, so a page of 100 jobs rarely needs more.
pub const MIN_LEN: usize = 6;

/// How many last digits tell `ids` apart (at least [`MIN_LEN`]).
#[must_use]
pub fn len_for<'a>(ids: impl IntoIterator<Item = &'a JobId>) -> usize {
    let mut hex: Vec<String> = ids.into_iter().map(compact).collect();
    hex.sort_unstable();
    hex.dedup();
    let mut len = MIN_LEN;
    while len < 32 {
        let mut tails: Vec<&str> = hex.iter().map(|h| &h[h.len() - len..]).collect();
        tails.sort_unstable();
        let before = tails.len();
        tails.dedup();
        if tails.len() == before {
            break;
        }
        len += 1;
    }
    len
}

/// The last `len` hex digits of `id`.
#[must_use]
pub fn show(id: &JobId, len: usize) -> String {
    let hex = compact(id);
    hex[hex.len() - len.clamp(1, hex.len())..].to_owned()
}

/// Whether `typed` (a shown short id, the start of an id, or a whole id; any case, dashes
/// optional) names `id`.
#[must_use]
pub fn matches(id: &JobId, typed: &str) -> bool {
    let typed: String = typed
        .chars()
        .filter(|c| *c != '-')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    let hex = compact(id);
    !typed.is_empty() && (hex.ends_with(&typed) || hex.starts_with(&typed))
}

/// The id as 32 lowercase hex digits, no dashes.
fn compact(id: &JobId) -> String {
    id.as_uuid().simple().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(text: &str) -> JobId {
        text.parse().unwrap()
    }

    fn show_all(ids: &[JobId]) -> Vec<String> {
        let len = len_for(ids);
        ids.iter().map(|id| show(id, len)).collect()
    }

    #[test]
    fn ids_from_the_same_millisecond_are_told_apart_by_their_random_tail() {
        let a = id("01a23b02-9c1e-7b7d-8a2f-0c5e7d1b3a01");
        let b = id("01a23b02-9c1e-7b7d-8a2f-0c5e7d4c5f02");
        assert_eq!(show_all(&[a, b]), ["1b3a01", "4c5f02"]);
        // Two tails alike in their last 6 digits: both lists grow to the first difference.
        let c = id("01a23b02-9c1e-7b7d-8a2f-0c5e7e1b3a01");
        assert_eq!(show_all(&[a, c]), ["d1b3a01", "e1b3a01"]);
        assert_eq!(show_all(&[a]), ["1b3a01"]);
        assert_eq!(len_for(&[a, a]), MIN_LEN);
    }

    #[test]
    fn what_is_shown_is_accepted_back() {
        let a = id("01a23b02-9c1e-7b7d-8a2f-0c5e7d1b3a01");
        assert!(matches(&a, "1B3A01"));
        assert!(matches(&a, "01a23b02-9c"));
        assert!(matches(&a, &a.to_string()));
        assert!(!matches(&a, "1b3a02"));
        assert!(!matches(&a, "-"));
    }
}
