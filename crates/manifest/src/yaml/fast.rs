//! A fast reader for the block-style YAML that manifests are written in, tried before the
//! full parser: serde-saphyr reads about 10 MB/s, which made it half of a render's CPU. It
//! accepts only a plain subset (block mappings and sequences, single-line plain and quoted
//! scalars, single-line flow collections, literal block scalars) and gives up (`None`) on
//! anything else — anchors, aliases, tags, folded or multi-line scalars, tabs, directives,
//! odd indentation, any error — so the full parser reads those texts and reports their errors.
//! A plain scalar that could be anything but a string (a number, `null`, `true`, `.inf`) is
//! resolved by the full parser on its own, so both readers resolve every scalar alike.
//! Part of the `yaml` module: YAML is still read in one place.

use serde_json::{Map, Value};

/// Deeper nesting is left to the full parser (and its depth budget).
const MAX_DEPTH: usize = 64;
/// More nodes than this are left to the full parser (and its node budget).
const MAX_NODES: usize = 500_000;

/// The documents of `text` (empty ones dropped), or `None` to let the full parser read it.
pub(super) fn parse_documents(text: &str) -> Option<Vec<Value>> {
    if !text.chars().all(printable) {
        return None;
    }
    let mut reader = Reader {
        lines: text.split('\n').map(Line::of).collect(),
        at: 0,
        nodes: 0,
        depth: 0,
    };
    // A trailing newline leaves one empty last piece: not a line.
    if text.ends_with('\n') {
        reader.lines.pop();
    }
    let mut docs = Vec::new();
    loop {
        let doc = reader.node(0)?;
        if !doc.is_null() {
            docs.push(doc);
        }
        match reader.significant() {
            None => return Some(docs),
            Some(line) if line.is_document_start() => reader.at += 1,
            Some(_) => return None,
        }
    }
}

/// Characters the full parser accepts outside escapes, minus the tab (indentation and
/// separation rules differ for it) and the carriage return (line breaks).
fn printable(c: char) -> bool {
    matches!(c, '\n' | ' '..='~' | '\u{A0}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
        && c != '\u{FEFF}'
}

#[derive(Clone, Copy)]
struct Line<'a> {
    /// The whole line.
    raw: &'a str,
    /// Its indentation, in spaces.
    indent: usize,
    /// The line after its indentation.
    text: &'a str,
}

impl<'a> Line<'a> {
    fn of(raw: &'a str) -> Self {
        let text = raw.trim_start_matches(' ');
        Self {
            raw,
            indent: raw.len() - text.len(),
            text,
        }
    }

    /// Blank or a comment only.
    fn is_insignificant(&self) -> bool {
        self.text.is_empty() || self.text.starts_with('#')
    }

    /// `---` alone (or with a comment) at the start of the line.
    fn is_document_start(&self) -> bool {
        self.indent == 0
            && self
                .text
                .strip_prefix("---")
                .is_some_and(is_comment_or_empty)
    }

    /// `---`, `...` or a directive at the start of a line: a document boundary.
    fn is_marker(&self) -> bool {
        self.indent == 0
            && (self.text.starts_with("---")
                || self.text.starts_with("...")
                || self.text.starts_with('%'))
    }
}

/// Nothing, or a comment after at least one space.
fn is_comment_or_empty(rest: &str) -> bool {
    let trimmed = rest.trim_start_matches(' ');
    trimmed.is_empty() || (trimmed.starts_with('#') && trimmed.len() < rest.len())
}

struct Reader<'a> {
    lines: Vec<Line<'a>>,
    at: usize,
    nodes: usize,
    depth: usize,
}

impl<'a> Reader<'a> {
    /// The next line that holds something (blank and comment lines skipped).
    fn significant(&mut self) -> Option<Line<'a>> {
        while let Some(line) = self.lines.get(self.at) {
            if !line.is_insignificant() {
                return Some(*line);
            }
            self.at += 1;
        }
        None
    }

    fn count(&mut self) -> Option<()> {
        self.nodes += 1;
        (self.nodes <= MAX_NODES).then_some(())
    }

    /// The block node starting at the next significant line, which must be indented at
    /// least `min`; a null when there is none.
    fn node(&mut self, min: usize) -> Option<Value> {
        let Some(line) = self.significant() else {
            return Some(Value::Null);
        };
        if line.is_marker() {
            // An empty document, or one the full parser must read (`...`, directives).
            return line.is_document_start().then_some(Value::Null);
        }
        if line.indent < min {
            return Some(Value::Null);
        }
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return None;
        }
        let node = if is_item(line.text) {
            self.sequence(line.indent)
        } else if key_end(line.text).is_some() {
            self.mapping(line.indent)
        } else {
            // A scalar or flow collection on a line of its own: rare in manifests, and
            // where it may continue on the next lines is the full parser's business.
            None
        };
        self.depth -= 1;
        node
    }

    /// A block sequence whose dashes are at column `indent`.
    fn sequence(&mut self, indent: usize) -> Option<Value> {
        let mut items = Vec::new();
        while let Some(line) = self.significant() {
            if line.indent < indent || line.is_marker() {
                break;
            }
            if line.indent > indent {
                return None;
            }
            if !is_item(line.text) {
                break;
            }
            self.count()?;
            // The item's content starts after the dash and its spaces.
            let rest = &line.text[1..];
            let content = rest.trim_start_matches(' ');
            let column = indent + 1 + (rest.len() - content.len());
            if is_comment_or_empty(rest) {
                self.at += 1;
                items.push(self.node(indent + 1)?);
            } else if is_item(content) {
                return None;
            } else if key_end(content).is_some() {
                // A compact mapping: `- key: value` and the keys below it at its column.
                self.lines[self.at] = Line {
                    raw: content,
                    indent: column,
                    text: content,
                };
                self.depth += 1;
                if self.depth > MAX_DEPTH {
                    return None;
                }
                items.push(self.mapping(column)?);
                self.depth -= 1;
            } else {
                items.push(self.inline(content, indent)?);
            }
        }
        Some(Value::Array(items))
    }

    /// A block mapping whose keys are at column `indent`.
    fn mapping(&mut self, indent: usize) -> Option<Value> {
        let mut map = Map::new();
        while let Some(line) = self.significant() {
            if line.indent < indent || line.is_marker() {
                break;
            }
            if line.indent > indent || is_item(line.text) {
                return None;
            }
            self.count()?;
            let end = key_end(line.text)?;
            let key = key_text(&line.text[..end])?;
            let rest = &line.text[end + 1..];
            let value = if is_comment_or_empty(rest) {
                self.at += 1;
                match self.significant() {
                    // `key:` then a sequence at the key's own column (kubectl's style).
                    Some(next)
                        if next.indent == indent && is_item(next.text) && !next.is_marker() =>
                    {
                        self.depth += 1;
                        if self.depth > MAX_DEPTH {
                            return None;
                        }
                        let seq = self.sequence(indent)?;
                        self.depth -= 1;
                        seq
                    }
                    _ => self.node(indent + 1)?,
                }
            } else {
                self.inline(rest.trim_start_matches(' '), indent)?
            };
            map.insert(key, value);
        }
        Some(Value::Object(map))
    }

    /// A value written on the current line (after `key:` or `- `), in a collection at
    /// column `indent`; moves past the line (and a block scalar's lines).
    fn inline(&mut self, text: &'a str, indent: usize) -> Option<Value> {
        self.count()?;
        let value = match text.as_bytes().first()? {
            b'|' => return self.literal(text, indent),
            b'[' | b'{' => {
                let mut flow = Flow {
                    text,
                    at: 0,
                    depth: self.depth,
                };
                let value = flow.node()?;
                if !is_comment_or_empty(&text[flow.at..]) {
                    return None;
                }
                self.nodes += flow.nodes();
                value
            }
            b'"' | b'\'' => {
                let (value, len) = quoted(text)?;
                if !is_comment_or_empty(&text[len..]) {
                    return None;
                }
                value
            }
            _ => {
                let plain = match text.find(" #") {
                    Some(i) => &text[..i],
                    None => text,
                }
                .trim_end_matches(' ');
                if plain.contains(": ") || plain.ends_with(':') {
                    return None;
                }
                resolve(plain)?
            }
        };
        self.at += 1;
        // A deeper line after a one-line value would continue it (a multi-line scalar).
        match self.significant() {
            Some(next) if next.indent > indent && !next.is_marker() => None,
            _ => Some(value),
        }
    }

    /// A literal block scalar (`|`, `|-`, `|+`) of a node in a collection at `indent`.
    fn literal(&mut self, header: &str, indent: usize) -> Option<Value> {
        let chomp = header[1..].chars().next();
        let rest = match chomp {
            Some('-' | '+') => &header[2..],
            _ => &header[1..],
        };
        if !is_comment_or_empty(rest) {
            return None;
        }
        self.at += 1;
        let start = self.at;
        // The content's indentation: that of its first non-blank line.
        let content_indent = self.lines[start..]
            .iter()
            .find(|l| !l.text.is_empty())
            .map(|l| l.indent)
            .filter(|&i| i > indent);
        let mut out: Vec<&str> = Vec::new();
        if let Some(n) = content_indent {
            while let Some(line) = self.lines.get(self.at) {
                if line.text.is_empty() {
                    // A blank line; more spaces than the indentation would be content.
                    if line.indent > n {
                        return None;
                    }
                    out.push("");
                } else if line.indent >= n {
                    out.push(&line.raw[n..]);
                } else if line.indent > indent {
                    return None;
                } else {
                    break;
                }
                self.at += 1;
            }
        } else {
            // No content: blank lines up to the next node.
            while self.lines.get(self.at).is_some_and(|l| l.text.is_empty()) {
                if self.lines[self.at].indent > indent {
                    return None;
                }
                out.push("");
                self.at += 1;
            }
        }
        // Trailing blank lines belong to the chomping, not to the content.
        let content = out.iter().rposition(|l| !l.is_empty()).map_or(0, |i| i + 1);
        let trailing = out.len() - content;
        let mut text = out[..content].join("\n");
        match chomp {
            Some('-') => {}
            Some('+') => {
                if content > 0 {
                    text.push('\n');
                }
                for _ in 0..trailing {
                    text.push('\n');
                }
            }
            _ => {
                if content > 0 {
                    text.push('\n');
                }
            }
        }
        // The blank lines skipped above may be followed by a deeper line: not ours.
        match self.significant() {
            Some(next) if next.indent > indent && !next.is_marker() => None,
            _ => Some(Value::String(text)),
        }
    }
}

/// `- ` or a lone `-`: a sequence item.
fn is_item(text: &str) -> bool {
    text == "-" || text.starts_with("- ")
}

/// Where the `:` ending a block mapping key is (`key: value` or `key:` at the end),
/// when the line is a plain or quoted key; `None` for anything else.
fn key_end(text: &str) -> Option<usize> {
    match text.as_bytes().first()? {
        b'"' | b'\'' => {
            let (_, len) = quoted(text)?;
            let rest = &text[len..];
            (rest.starts_with(':') && is_separated(&rest[1..])).then_some(len)
        }
        b'[' | b'{' | b'-' | b'?' | b':' | b',' | b']' | b'}' | b'#' | b'&' | b'*' | b'!'
        | b'|' | b'>' | b'%' | b'@' | b'`' => None,
        _ => {
            let end = text.find(" #").unwrap_or(text.len());
            let head = &text[..end];
            let colon = head
                .match_indices(':')
                .map(|(i, _)| i)
                .find(|&i| is_separated(&head[i + 1..]))?;
            Some(colon)
        }
    }
}

/// What follows a `:` makes it a key indicator: nothing or a space.
fn is_separated(rest: &str) -> bool {
    rest.is_empty() || rest.starts_with(' ')
}

/// A mapping key's text; `None` unless it certainly reads as this string.
fn key_text(raw: &str) -> Option<String> {
    match raw.as_bytes().first()? {
        b'"' | b'\'' => match quoted(raw)?.0 {
            Value::String(s) => Some(s),
            _ => None,
        },
        _ => {
            let key = raw.trim_end_matches(' ');
            if key == "<<" {
                return None;
            }
            match resolve_plain(key)? {
                Value::String(s) => Some(s),
                _ => None,
            }
        }
    }
}

/// A single- or double-quoted scalar at the start of `text` and its length in bytes;
/// `None` when it does not end on this line.
fn quoted(text: &str) -> Option<(Value, usize)> {
    let bytes = text.as_bytes();
    match bytes.first()? {
        b'\'' => {
            let mut out = String::new();
            let mut i = 1;
            loop {
                let rel = text[i..].find('\'')?;
                out.push_str(&text[i..i + rel]);
                i += rel + 1;
                if bytes.get(i) == Some(&b'\'') {
                    out.push('\'');
                    i += 1;
                } else {
                    return Some((Value::String(out), i));
                }
            }
        }
        b'"' => {
            let rel = text[1..].find('"')?;
            let inner = &text[1..1 + rel];
            if inner.contains('\\') {
                // Escapes: let the full parser read this one scalar.
                let end = escaped_end(text)?;
                return Some((super::full_scalar(&text[..end])?, end));
            }
            Some((Value::String(inner.to_string()), rel + 2))
        }
        _ => None,
    }
}

/// The end (exclusive) of a double-quoted scalar with escapes.
fn escaped_end(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut i = 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

/// A plain scalar in block context (`text` already without a comment).
fn resolve(text: &str) -> Option<Value> {
    match text.as_bytes().first()? {
        b'-' if text.len() == 1 => None,
        b'?' | b':' | b',' | b'[' | b']' | b'{' | b'}' | b'#' | b'&' | b'*' | b'!' | b'|'
        | b'>' | b'\'' | b'"' | b'%' | b'@' | b'`' => None,
        _ => resolve_plain(text),
    }
}

/// A plain scalar's value: the string itself unless it might read as something else,
/// in which case the full parser resolves it.
fn resolve_plain(text: &str) -> Option<Value> {
    if text.is_empty() {
        return None;
    }
    // Read alone, `---…` or `...…` would be a document marker, not this scalar.
    if text.starts_with("---") || text.starts_with("...") {
        return None;
    }
    let first = text.as_bytes()[0];
    if first.is_ascii_digit() || matches!(first, b'-' | b'+' | b'.' | b'~') {
        if let Some(n) = decimal(text) {
            return Some(n);
        }
        return super::full_scalar(text);
    }
    if is_special_word(text) || text.parse::<f64>().is_ok() {
        return super::full_scalar(text);
    }
    Some(Value::String(text.to_string()))
}

/// A decimal integer without sign or leading zero that fits an `i64`.
fn decimal(text: &str) -> Option<Value> {
    if text.len() > 18 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if text.len() > 1 && text.starts_with('0') {
        return None;
    }
    text.parse::<i64>().ok().map(Value::from)
}

/// Words YAML (1.1 or 1.2) gives a meaning: left to the full parser.
fn is_special_word(text: &str) -> bool {
    const WORDS: &[&str] = &[
        "null", "true", "false", "yes", "no", "on", "off", "y", "n", "inf", "nan", "infinity",
    ];
    text.len() <= 8 && WORDS.iter().any(|w| w.eq_ignore_ascii_case(text))
}

/// A flow collection on one line.
struct Flow<'a> {
    text: &'a str,
    at: usize,
    depth: usize,
}

impl Flow<'_> {
    fn nodes(&self) -> usize {
        // Bounded by the line's length: a line cannot hold more nodes than bytes.
        self.at
    }

    fn skip_spaces(&mut self) {
        while self.text.as_bytes().get(self.at) == Some(&b' ') {
            self.at += 1;
        }
    }

    fn node(&mut self) -> Option<Value> {
        self.skip_spaces();
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return None;
        }
        let value = match self.text.as_bytes().get(self.at)? {
            b'[' => self.sequence(),
            b'{' => self.mapping(),
            b'"' | b'\'' => {
                let (value, len) = quoted(&self.text[self.at..])?;
                self.at += len;
                Some(value)
            }
            _ => {
                let rest = &self.text[self.at..];
                let len = rest
                    .find([',', '[', ']', '{', '}', '#', ':'])
                    .unwrap_or(rest.len());
                let plain = rest[..len].trim_end_matches(' ');
                if plain.is_empty() {
                    return None;
                }
                self.at += len;
                resolve(plain)
            }
        };
        self.depth -= 1;
        value
    }

    fn sequence(&mut self) -> Option<Value> {
        self.at += 1;
        let mut items = Vec::new();
        self.skip_spaces();
        if self.text.as_bytes().get(self.at) == Some(&b']') {
            self.at += 1;
            return Some(Value::Array(items));
        }
        loop {
            items.push(self.node()?);
            self.skip_spaces();
            match self.text.as_bytes().get(self.at)? {
                b',' => self.at += 1,
                b']' => {
                    self.at += 1;
                    return Some(Value::Array(items));
                }
                _ => return None,
            }
        }
    }

    fn mapping(&mut self) -> Option<Value> {
        self.at += 1;
        let mut map = Map::new();
        self.skip_spaces();
        if self.text.as_bytes().get(self.at) == Some(&b'}') {
            self.at += 1;
            return Some(Value::Object(map));
        }
        loop {
            self.skip_spaces();
            let key = match self.node()? {
                Value::String(key) => key,
                _ => return None,
            };
            self.skip_spaces();
            // `key: value`: the colon and at least one space.
            if !self.text[self.at..].starts_with(": ") {
                return None;
            }
            self.at += 1;
            let value = self.node()?;
            map.insert(key, value);
            self.skip_spaces();
            match self.text.as_bytes().get(self.at)? {
                b',' => self.at += 1,
                b'}' => {
                    self.at += 1;
                    return Some(Value::Object(map));
                }
                _ => return None,
            }
        }
    }
}
