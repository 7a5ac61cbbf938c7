//! Tokenizers. iptables-restore splits a rule line its own way (iptables
//! xshared.c `add_param_to_argv`): whitespace separates words, a double quote opens a
//! group that ends at the next unescaped double quote (the closing quote also ends the
//! word), and inside quotes a backslash takes the next character literally. Outside
//! quotes a backslash is an ordinary character and single quotes mean nothing. This is
//! not POSIX shell, so it is hand-written; shell command lines (scripts) go through
//! [`shell_words`] instead.

use crate::diag::LineErr;
use std::borrow::Cow;

/// A word of a line with its 1-based column (in characters) and byte offset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tok<'a> {
    /// The word, quotes removed (borrowed from the line when it had none).
    pub text: Cow<'a, str>,
    /// 1-based column of the word's first character.
    pub col: u32,
    /// Byte offset of the word's first character within the line.
    pub offset: usize,
}

impl Tok<'_> {
    /// The word.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The same token owning its text.
    pub fn into_static(self) -> Tok<'static> {
        Tok {
            text: Cow::Owned(self.text.into_owned()),
            col: self.col,
            offset: self.offset,
        }
    }

    /// A token (for tests and callers building argv by hand).
    pub fn new(text: &str, col: u32) -> Tok<'static> {
        Tok {
            text: Cow::Owned(text.to_string()),
            col,
            offset: col.saturating_sub(1) as usize,
        }
    }
}

/// Splits one iptables-restore line into words.
///
/// Hot path of loading big rulesets: words without quotes (nearly all) are copied
/// from the line in one piece, and the column count only walks non-ASCII text.
pub fn restore_words(line: &str) -> Result<Vec<Tok<'_>>, LineErr> {
    let b = line.as_bytes();
    let mut out = Vec::with_capacity(16);
    let mut i = 0;
    // Column (1-based, in characters) of byte `i`, kept up to date incrementally.
    let mut col = 1u32;
    let mut col_at = 0usize;
    let ascii = line.is_ascii();
    let mut col_of = |off: usize| -> u32 {
        if ascii {
            return u32::try_from(off + 1).unwrap_or(u32::MAX);
        }
        if off > col_at {
            let seg = &b[col_at..off];
            let n = if seg.is_ascii() {
                seg.len()
            } else {
                line.get(col_at..off)
                    .map_or(seg.len(), |s| s.chars().count())
            };
            col = col.saturating_add(u32::try_from(n).unwrap_or(u32::MAX));
            col_at = off;
        }
        col
    };
    while i < b.len() {
        match b[i] {
            b' ' | b'\t' | b'\n' | b'\r' => {
                i += 1;
                continue;
            }
            _ => {}
        }
        let start = i;
        // Unquoted run.
        while i < b.len() && !matches!(b[i], b' ' | b'\t' | b'\n' | b'\r' | b'"') {
            i += 1;
        }
        if i >= b.len() || b[i] != b'"' {
            out.push(Tok {
                text: Cow::Borrowed(&line[start..i]),
                col: col_of(start),
                offset: start,
            });
            continue;
        }
        // A quote: the word is the unquoted part so far plus the quoted part; the
        // closing quote ends the word.
        let mut text = line[start..i].to_string();
        i += 1;
        let mut escaped = false;
        let mut closed = false;
        let mut run = i;
        while i < b.len() {
            let c = b[i];
            if escaped {
                escaped = false;
            } else if c == b'\\' {
                text.push_str(&line[run..i]);
                run = i + 1;
                escaped = true;
            } else if c == b'"' {
                closed = true;
                break;
            }
            i += 1;
        }
        text.push_str(&line[run..i]);
        if closed {
            i += 1;
        } else {
            // iptables-restore reads the line with its newline, so an unterminated
            // quote swallows it and the word ends there.
            text.push('\n');
        }
        out.push(Tok {
            text: Cow::Owned(text),
            col: col_of(start),
            offset: start,
        });
    }
    Ok(out)
}

/// Whether a restore line ends inside a double-quoted word (its newline then belongs
/// to the word).
pub(crate) fn ends_in_open_quote(line: &str) -> bool {
    let mut open = false;
    let mut escaped = false;
    for ch in line.chars() {
        if open {
            if escaped {
                escaped = false;
            } else if ch == '\\' {
                escaped = true;
            } else if ch == '"' {
                open = false;
            }
        } else if ch == '"' {
            open = true;
        }
    }
    open
}

/// Splits a shell command line (as copied from a how-to) into words with POSIX
/// quoting rules. Columns are recovered by searching each word's first raw character
/// from the previous word's end, which is exact for unquoted words and points at the
/// opening quote otherwise.
pub fn shell_words(line: &str) -> Result<Vec<Tok<'static>>, LineErr> {
    let words = shlex::split(line).ok_or_else(|| {
        LineErr::new(1, line.trim(), "unbalanced quotes in shell command line")
            .expect("matching quotes")
    })?;
    let mut out = Vec::with_capacity(words.len());
    let mut pos = 0usize;
    for w in words {
        // Skip whitespace to the next raw word start.
        let rest = line.get(pos..).unwrap_or("");
        let skip = rest.len() - rest.trim_start().len();
        let start = pos + skip;
        // Advance past this raw word: up to the next unquoted whitespace.
        let mut end = start;
        let mut q: Option<char> = None;
        let mut esc = false;
        for (i, ch) in line.get(start..).unwrap_or("").char_indices() {
            end = start + i + ch.len_utf8();
            if esc {
                esc = false;
                continue;
            }
            match (q, ch) {
                (None, '\\') | (Some('"'), '\\') => esc = true,
                (None, '\'') | (None, '"') => q = Some(ch),
                (Some(c), x) if c == x => q = None,
                (None, c) if c.is_whitespace() => {
                    end = start + i;
                    break;
                }
                _ => {}
            }
        }
        let col = line.get(..start).map(|s| s.chars().count()).unwrap_or(0) + 1;
        out.push(Tok {
            text: Cow::Owned(w),
            col: u32::try_from(col).unwrap_or(u32::MAX),
            offset: start,
        });
        pos = end.max(start + 1).min(line.len());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts<'a>(v: &'a [Tok<'_>]) -> Vec<&'a str> {
        v.iter().map(|t| t.as_str()).collect()
    }

    #[test]
    fn restore_quoting() {
        let t = restore_words(r#"-A INPUT -m comment --comment "a \"b\" c" -j ACCEPT"#).unwrap();
        assert_eq!(
            texts(&t),
            [
                "-A",
                "INPUT",
                "-m",
                "comment",
                "--comment",
                "a \"b\" c",
                "-j",
                "ACCEPT"
            ]
        );
        assert_eq!(t[1].col, 4);
        assert_eq!(t[5].col, 31);
        let t = restore_words("  x\t\ty  ").unwrap();
        assert_eq!(texts(&t), ["x", "y"]);
        assert_eq!((t[0].col, t[1].col), (3, 6));
        // Single quotes and outside backslashes are literal.
        let t = restore_words(r"'a b' c\d").unwrap();
        assert_eq!(texts(&t), ["'a", "b'", r"c\d"]);
        // Empty quoted word and a quote closing the word.
        let t = restore_words(r#"--x "" "ab"cd"#).unwrap();
        assert_eq!(texts(&t), ["--x", "", "ab", "cd"]);
    }

    #[test]
    fn escapes_and_columns() {
        let t = restore_words("a\"b\\\"c\\\\\"d é \"x\\").unwrap();
        assert_eq!(texts(&t), ["ab\"c\\", "d", "é", "x\n"]);
        assert_eq!(
            t.iter().map(|t| (t.col, t.offset)).collect::<Vec<_>>(),
            [(1, 0), (10, 9), (12, 11), (14, 14)]
        );
        let t = restore_words("\"\\é\" ü\t\"\"").unwrap();
        assert_eq!(texts(&t), ["é", "ü", ""]);
        assert_eq!((t[1].col, t[2].col), (6, 8));
    }

    /// The straightforward char-by-char tokenizer the fast one must agree with.
    fn reference_words(line: &str) -> Result<Vec<Tok<'static>>, LineErr> {
        let mut out = Vec::new();
        let mut cur = String::new();
        let mut start: Option<(u32, usize)> = None;
        let mut quote_open = false;
        let mut quote_start = (0u32, 0usize);
        let mut escaped = false;
        for (col0, (off, ch)) in line.char_indices().enumerate() {
            let col = u32::try_from(col0 + 1).unwrap_or(u32::MAX);
            if quote_open {
                if escaped {
                    cur.push(ch);
                    escaped = false;
                } else if ch == '\\' {
                    escaped = true;
                } else if ch == '"' {
                    quote_open = false;
                    let (c, o) = start.unwrap_or(quote_start);
                    out.push(Tok {
                        text: std::mem::take(&mut cur).into(),
                        col: c,
                        offset: o,
                    });
                    start = None;
                } else {
                    cur.push(ch);
                }
                continue;
            }
            match ch {
                '"' => {
                    quote_open = true;
                    quote_start = (col, off);
                    if start.is_none() {
                        start = Some((col, off));
                    }
                }
                ' ' | '\t' | '\n' | '\r' => {
                    if let Some((c, o)) = start.take() {
                        out.push(Tok {
                            text: std::mem::take(&mut cur).into(),
                            col: c,
                            offset: o,
                        });
                    }
                }
                _ => {
                    if start.is_none() {
                        start = Some((col, off));
                    }
                    cur.push(ch);
                }
            }
        }
        if quote_open {
            // iptables-restore reads the line with its newline, so an unterminated quote
            // swallows it and the word ends there.
            cur.push('\n');
            let (c, o) = start.unwrap_or(quote_start);
            out.push(Tok {
                text: cur.into(),
                col: c,
                offset: o,
            });
            return Ok(out);
        }
        if let Some((c, o)) = start {
            out.push(Tok {
                text: cur.into(),
                col: c,
                offset: o,
            });
        }
        Ok(out)
    }

    proptest::proptest! {
        #[test]
        fn fast_tokenizer_agrees(s in "[a\\\\\" \t\\-é!]{0,24}") {
            proptest::prop_assert_eq!(restore_words(&s).unwrap(), reference_words(&s).unwrap());
        }
    }

    #[test]
    fn unterminated() {
        let t = restore_words(r#"-A X "abc -j"#).unwrap();
        assert_eq!(t[2].text, "abc -j\n");
        assert_eq!(t[2].col, 6);
    }

    #[test]
    fn shell() {
        let t = shell_words(r#"iptables -A INPUT -m comment --comment 'x y' -j ACCEPT"#).unwrap();
        assert_eq!(t[6].text, "x y");
        assert_eq!(t[6].col, 40);
        assert_eq!(t[7].col, 46);
        assert!(shell_words("iptables 'abc").is_err());
    }
}
