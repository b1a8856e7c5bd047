//! Right-to-left text: glyphs come in visual order, text is stored in logical order.

pub(crate) fn is_rtl(c: char) -> bool {
    matches!(c as u32,
        0x0590..=0x08FF | 0xFB1D..=0xFDFF | 0xFE70..=0xFEFF | 0x10800..=0x10FFF | 0x1E800..=0x1EFFF)
}

/// Glyphs come in visual (left-to-right) order; right-to-left text is read the other way.
/// Word by word: inside a word, right-to-left stretches are reversed (digits and Latin keep
/// their order); a line that is mostly right-to-left has its word order reversed too, with
/// consecutive left-to-right words kept in their order.
pub(crate) fn visual_to_logical(line: &str) -> String {
    let words: Vec<String> = line
        .split(' ')
        .filter(|w| !w.is_empty())
        .map(word_to_logical)
        .collect();
    let strong_rtl = |w: &String| w.chars().any(|c| is_rtl(c) && !is_arabic_digit(c));
    let rtl_words = words.iter().filter(|w| strong_rtl(w)).count();
    let mut groups: Vec<Vec<String>> = Vec::new();
    let mut last_rtl: Option<bool> = None;
    for w in words {
        let r = strong_rtl(&w);
        match groups.last_mut() {
            Some(g) if last_rtl == Some(r) => g.push(w),
            _ => groups.push(vec![w]),
        }
        last_rtl = Some(r);
    }
    let mostly_rtl = rtl_words * 2 > groups.iter().map(Vec::len).sum::<usize>();
    // Within a right-to-left group the visual word order is reversed.
    for g in &mut groups {
        if g.first().is_some_and(&strong_rtl) {
            g.reverse();
        }
    }
    if mostly_rtl {
        groups.reverse();
    }
    groups.into_iter().flatten().collect::<Vec<_>>().join(" ")
}

fn word_to_logical(word: &str) -> String {
    let chars: Vec<char> = word.chars().collect();
    let mut parts: Vec<(bool, Vec<char>)> = Vec::new();
    for c in chars {
        let r =
            is_rtl(c) && !is_arabic_digit(c) || (is_mark(c) && parts.last().is_some_and(|p| p.0));
        match parts.last_mut() {
            Some(p) if p.0 == r => p.1.push(c),
            _ => parts.push((r, vec![c])),
        }
    }
    let rtl_len: usize = parts.iter().filter(|p| p.0).map(|p| p.1.len()).sum();
    if rtl_len == 0 {
        return word.to_string();
    }
    let ltr_len: usize = parts.iter().filter(|p| !p.0).map(|p| p.1.len()).sum();
    for p in &mut parts {
        if p.0 {
            p.1.reverse();
        }
    }
    if rtl_len >= ltr_len {
        parts.reverse();
    }
    parts.into_iter().flat_map(|p| p.1).collect()
}

fn is_mark(c: char) -> bool {
    matches!(c as u32, 0x0300..=0x036F | 0x064B..=0x065F | 0x0670 | 0x06D6..=0x06ED | 0x200C | 0x200D)
}

fn is_arabic_digit(c: char) -> bool {
    matches!(c as u32, 0x0660..=0x0669 | 0x06F0..=0x06F9)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rtl_is_reversed() {
        assert_eq!(
            visual_to_logical("\u{645}\u{644}\u{633} \u{627}\u{628}"),
            "\u{628}\u{627} \u{633}\u{644}\u{645}"
        );
        assert_eq!(visual_to_logical("abc"), "abc");
    }
}
