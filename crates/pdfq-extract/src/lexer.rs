//! Content-stream tokenizer: operands and operators, without building lopdf objects.
//! Never fails: malformed input yields what can be read and skips the rest.

/// An operand. Strings own their (unescaped) bytes; names borrow from the stream.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Operand<'a> {
    Number(f32),
    Name(&'a [u8]),
    Str(Vec<u8>),
    Array(Vec<Operand<'a>>),
    /// A dictionary outside an array (marked-content properties): its bytes between `<<` and
    /// `>>`, read only by [`Operand::dict_integer`].
    Dict(&'a [u8]),
    /// Dictionaries inside arrays, and keywords like true/null.
    Other,
}

impl Operand<'_> {
    pub fn num(&self) -> Option<f32> {
        match self {
            Operand::Number(n) => Some(*n),
            _ => None,
        }
    }

    /// The integer value of `/key` in a [`Operand::Dict`] (an MCID): a key of a nested
    /// dictionary or inside a string may be taken for it, which the structure tree's
    /// consistency check catches.
    pub fn dict_integer(&self, key: &[u8]) -> Option<u32> {
        let Operand::Dict(body) = self else {
            return None;
        };
        let mut from = 0;
        while let Some(at) = memchr::memmem::find(&body[from..], key) {
            let start = from + at;
            from = start + key.len();
            if start == 0 || body[start - 1] != b'/' {
                continue;
            }
            let rest = &body[from..];
            // The name must end here (/MCID, not /MCIDX).
            if rest.first().is_some_and(|b| !is_white(*b) && !is_delim(*b)) {
                continue;
            }
            let digits: &[u8] = {
                let trimmed = &rest[rest.iter().take_while(|b| is_white(**b)).count()..];
                &trimmed[..trimmed.iter().take_while(|b| b.is_ascii_digit()).count()]
            };
            return std::str::from_utf8(digits).ok()?.parse().ok();
        }
        None
    }
}

#[derive(Debug)]
pub(crate) enum Token<'a> {
    Operand(Operand<'a>),
    Operator(&'a [u8]),
}

pub(crate) struct Lexer<'a> {
    data: &'a [u8],
    pos: usize,
    max_depth: u32,
}

fn is_white(b: u8) -> bool {
    matches!(b, b' ' | b'\n' | b'\r' | b'\t' | b'\x0c' | b'\0')
}

fn is_delim(b: u8) -> bool {
    matches!(
        b,
        b'(' | b')' | b'<' | b'>' | b'[' | b']' | b'{' | b'}' | b'/' | b'%'
    )
}

impl<'a> Lexer<'a> {
    pub fn new(data: &'a [u8], max_depth: u32) -> Self {
        Lexer {
            data,
            pos: 0,
            max_depth,
        }
    }

    fn skip_ws(&mut self) {
        while self.pos < self.data.len() {
            let b = self.data[self.pos];
            if is_white(b) {
                self.pos += 1;
            } else if b == b'%' {
                while self.pos < self.data.len() && !matches!(self.data[self.pos], b'\n' | b'\r') {
                    self.pos += 1;
                }
            } else {
                break;
            }
        }
    }

    pub fn next_token(&mut self) -> Option<Token<'a>> {
        loop {
            self.skip_ws();
            let b = *self.data.get(self.pos)?;
            match b {
                b'[' => {
                    self.pos += 1;
                    return Some(Token::Operand(self.array(1)));
                }
                b'<' if self.data.get(self.pos + 1) == Some(&b'<') => {
                    self.pos += 2;
                    let start = self.pos;
                    self.skip_dict(1);
                    let end = self.pos.saturating_sub(2).max(start);
                    return Some(Token::Operand(Operand::Dict(&self.data[start..end])));
                }
                b']' | b'>' | b')' | b'{' | b'}' => {
                    // Stray closers: skip.
                    self.pos += 1;
                }
                _ => {
                    if let Some(op) = self.operand() {
                        return Some(Token::Operand(op));
                    }
                    let start = self.pos;
                    while self.pos < self.data.len()
                        && !is_white(self.data[self.pos])
                        && !is_delim(self.data[self.pos])
                    {
                        self.pos += 1;
                    }
                    if self.pos == start {
                        self.pos += 1;
                        continue;
                    }
                    return Some(Token::Operator(&self.data[start..self.pos]));
                }
            }
        }
    }

    /// A number, name or string at the cursor, or `None` (cursor unchanged) for a keyword.
    fn operand(&mut self) -> Option<Operand<'a>> {
        let b = *self.data.get(self.pos)?;
        match b {
            b'/' => {
                self.pos += 1;
                let start = self.pos;
                while self.pos < self.data.len()
                    && !is_white(self.data[self.pos])
                    && !is_delim(self.data[self.pos])
                {
                    self.pos += 1;
                }
                Some(Operand::Name(&self.data[start..self.pos]))
            }
            b'(' => {
                self.pos += 1;
                Some(Operand::Str(self.literal()))
            }
            b'<' => {
                self.pos += 1;
                Some(Operand::Str(self.hex()))
            }
            b'0'..=b'9' | b'+' | b'-' | b'.' => Some(Operand::Number(self.number())),
            _ => None,
        }
    }

    fn number(&mut self) -> f32 {
        let start = self.pos;
        let mut neg = false;
        let mut int: f64 = 0.0;
        let mut frac: f64 = 0.0;
        let mut scale: f64 = 1.0;
        let mut seen_dot = false;
        while let Some(&c) = self.data.get(self.pos) {
            match c {
                b'-' if self.pos == start => neg = true,
                b'+' if self.pos == start => {}
                // Some writers emit "--5" or "5-"; signs after the start are ignored.
                b'-' | b'+' => {}
                b'.' if !seen_dot => seen_dot = true,
                b'0'..=b'9' => {
                    let d = f64::from(c - b'0');
                    if seen_dot {
                        scale /= 10.0;
                        frac += d * scale;
                    } else {
                        int = int * 10.0 + d;
                    }
                }
                _ => break,
            }
            self.pos += 1;
        }
        let v = int + frac;
        let v = if neg { -v } else { v };
        if v.is_finite() { v as f32 } else { 0.0 }
    }

    fn literal(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut level = 1u32;
        while let Some(&c) = self.data.get(self.pos) {
            self.pos += 1;
            match c {
                b'(' => {
                    level += 1;
                    out.push(c);
                }
                b')' => {
                    level -= 1;
                    if level == 0 {
                        break;
                    }
                    out.push(c);
                }
                b'\\' => {
                    let Some(&e) = self.data.get(self.pos) else {
                        break;
                    };
                    self.pos += 1;
                    match e {
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'b' => out.push(8),
                        b'f' => out.push(12),
                        b'\r' => {
                            if self.data.get(self.pos) == Some(&b'\n') {
                                self.pos += 1;
                            }
                        }
                        b'\n' => {}
                        b'0'..=b'7' => {
                            let mut v = u32::from(e - b'0');
                            for _ in 0..2 {
                                match self.data.get(self.pos) {
                                    Some(&d @ b'0'..=b'7') => {
                                        v = v * 8 + u32::from(d - b'0');
                                        self.pos += 1;
                                    }
                                    _ => break,
                                }
                            }
                            out.push((v & 0xff) as u8);
                        }
                        other => out.push(other),
                    }
                }
                _ => out.push(c),
            }
        }
        out
    }

    fn hex(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut hi: Option<u8> = None;
        while let Some(&c) = self.data.get(self.pos) {
            self.pos += 1;
            let v = match c {
                b'0'..=b'9' => c - b'0',
                b'a'..=b'f' => c - b'a' + 10,
                b'A'..=b'F' => c - b'A' + 10,
                b'>' => break,
                _ => continue,
            };
            match hi.take() {
                Some(h) => out.push(h << 4 | v),
                None => hi = Some(v),
            }
        }
        if let Some(h) = hi {
            out.push(h << 4);
        }
        out
    }

    fn array(&mut self, depth: u32) -> Operand<'a> {
        let mut items = Vec::new();
        loop {
            self.skip_ws();
            let Some(&b) = self.data.get(self.pos) else {
                break;
            };
            match b {
                b']' => {
                    self.pos += 1;
                    break;
                }
                b'[' => {
                    self.pos += 1;
                    if depth >= self.max_depth {
                        self.skip_nested(b'[', b']');
                        items.push(Operand::Other);
                    } else {
                        items.push(self.array(depth + 1));
                    }
                }
                b'<' if self.data.get(self.pos + 1) == Some(&b'<') => {
                    self.pos += 2;
                    self.skip_dict(depth + 1);
                    items.push(Operand::Other);
                }
                _ => match self.operand() {
                    Some(op) => items.push(op),
                    None => {
                        // A keyword inside an array (true, null, or damage): skip it. An
                        // operator here means the array was never closed, so end it.
                        let start = self.pos;
                        while self.pos < self.data.len()
                            && !is_white(self.data[self.pos])
                            && !is_delim(self.data[self.pos])
                        {
                            self.pos += 1;
                        }
                        let word = &self.data[start..self.pos];
                        if self.pos == start {
                            self.pos += 1;
                        } else if !matches!(word, b"true" | b"false" | b"null") {
                            self.pos = start;
                            break;
                        }
                        items.push(Operand::Other);
                    }
                },
            }
        }
        Operand::Array(items)
    }

    /// Skips a dictionary body (after `<<`), strings included, to its `>>`.
    fn skip_dict(&mut self, depth: u32) {
        let mut level = depth;
        let base = depth - 1;
        while let Some(&c) = self.data.get(self.pos) {
            match c {
                b'(' => {
                    self.pos += 1;
                    self.literal();
                    continue;
                }
                b'<' if self.data.get(self.pos + 1) == Some(&b'<') => {
                    level += 1;
                    self.pos += 2;
                    continue;
                }
                b'<' => {
                    self.pos += 1;
                    self.hex();
                    continue;
                }
                b'>' if self.data.get(self.pos + 1) == Some(&b'>') => {
                    level -= 1;
                    self.pos += 2;
                    if level == base {
                        return;
                    }
                    continue;
                }
                _ => self.pos += 1,
            }
        }
    }

    fn skip_nested(&mut self, open: u8, close: u8) {
        let mut level = 1u32;
        while let Some(&c) = self.data.get(self.pos) {
            self.pos += 1;
            if c == b'(' {
                self.literal();
            } else if c == open {
                level += 1;
            } else if c == close {
                level -= 1;
                if level == 0 {
                    return;
                }
            }
        }
    }

    /// After `ID`: skips inline image data up to and including `EI`.
    pub fn skip_inline_image(&mut self) {
        // One whitespace byte follows ID; then binary data ends at whitespace + "EI" + delimiter.
        self.pos += 1;
        let d = self.data;
        let mut i = self.pos;
        while i < d.len() {
            match memchr::memmem::find(&d[i..], b"EI") {
                Some(off) => {
                    let at = i + off;
                    let before_ok = at == 0 || is_white(d[at - 1]);
                    let after_ok = d.get(at + 2).is_none_or(|&c| is_white(c) || is_delim(c));
                    if before_ok && after_ok {
                        self.pos = at + 2;
                        return;
                    }
                    i = at + 2;
                }
                None => break,
            }
        }
        self.pos = d.len();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(data: &[u8]) -> Vec<String> {
        let mut lx = Lexer::new(data, 8);
        let mut out = Vec::new();
        while let Some(t) = lx.next_token() {
            out.push(match t {
                Token::Operator(b"ID") => {
                    lx.skip_inline_image();
                    "ID".to_string()
                }
                Token::Operator(op) => String::from_utf8_lossy(op).into_owned(),
                Token::Operand(o) => format!("{o:?}"),
            });
        }
        out
    }

    #[test]
    fn lexes_text_operators() {
        let t = tokens(b"BT /F1 12 Tf [(a\\)b) -250 <4142>] TJ (x\\101) Tj ET");
        assert_eq!(t[0], "BT");
        assert_eq!(t[1], "Name([70, 49])");
        assert_eq!(t[2], "Number(12.0)");
        assert!(
            t[4].contains("Str([97, 41, 98])")
                && t[4].contains("Number(-250.0)")
                && t[4].contains("Str([65, 66])")
        );
        assert_eq!(t[6], "Str([120, 65])");
    }

    #[test]
    fn skips_inline_images_and_unclosed_arrays() {
        let t = tokens(b"BI /W 1 /H 1 ID \x00EI\xff EI Q [1 2 Tj ET");
        assert!(t.contains(&"ID".to_string()) && t.contains(&"Q".to_string()));
        assert!(t.contains(&"Tj".to_string()) && t.contains(&"ET".to_string()));
    }

    #[test]
    fn marked_content_properties_give_their_mcid() {
        let mut lx = Lexer::new(
            b"/P <</Lang (en) /MCID 12>> BDC /Span<</MCIDX 3/Alt (x)>>BDC",
            8,
        );
        let mut dicts = Vec::new();
        while let Some(t) = lx.next_token() {
            if let Token::Operand(o @ Operand::Dict(_)) = t {
                dicts.push(o.dict_integer(b"MCID"));
            }
        }
        assert_eq!(dicts, [Some(12), None]);
    }

    #[test]
    fn deep_arrays_are_bounded() {
        let data = [b"[".repeat(100_000), b"] TJ".to_vec()].concat();
        let t = tokens(&data);
        assert!(!t.is_empty());
    }
}
