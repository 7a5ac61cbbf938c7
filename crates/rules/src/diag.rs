//! Diagnostics: every problem found in a ruleset, with its position, collected rather
//! than reported one at a time (a user fixing a file wants all of them at once).

use std::fmt;

/// One problem in a ruleset text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// File name as given by the caller.
    pub file: String,
    /// 1-based line.
    pub line: u32,
    /// 1-based column (in characters) of the offending word.
    pub col: u32,
    /// The offending word (may be empty at end of line).
    pub word: String,
    /// What is wrong.
    pub message: String,
    /// What would have been accepted there.
    pub expected: Option<String>,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: error: {}",
            self.file, self.line, self.col, self.message
        )?;
        // The word is empty when the problem is a whole rule (found at COMMIT).
        let near = (!self.word.is_empty()).then(|| format!("near `{}`", self.word));
        let expected = self.expected.as_ref().map(|e| format!("expected {e}"));
        match (near, expected) {
            (Some(n), Some(e)) => write!(f, " ({n}; {e})"),
            (Some(x), None) | (None, Some(x)) => write!(f, " ({x})"),
            (None, None) => Ok(()),
        }
    }
}

impl std::error::Error for Diagnostic {}

/// A problem found while parsing one line, before file and line are known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct LineErr {
    pub col: u32,
    pub word: String,
    pub message: String,
    pub expected: Option<String>,
}

impl LineErr {
    pub(crate) fn new(col: u32, word: &str, message: impl Into<String>) -> LineErr {
        LineErr {
            col,
            word: word.to_string(),
            message: message.into(),
            expected: None,
        }
    }

    pub(crate) fn expect(mut self, e: impl Into<String>) -> LineErr {
        self.expected = Some(e.into());
        self
    }

    pub(crate) fn at(self, file: &str, line: u32) -> Diagnostic {
        Diagnostic {
            file: file.to_string(),
            line,
            col: self.col,
            word: self.word,
            message: self.message,
            expected: self.expected,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_format() {
        let d = LineErr::new(12, "--dprot", "unknown option")
            .expect("an option of `-m conntrack`")
            .at("rules.v4", 3);
        assert_eq!(
            d.to_string(),
            "rules.v4:3:12: error: unknown option (near `--dprot`; expected an option of `-m conntrack`)"
        );
        let d = LineErr::new(1, "x", "bad").at("f", 1);
        assert_eq!(d.to_string(), "f:1:1: error: bad (near `x`)");
        let d = LineErr::new(1, "", "bad").expect("good").at("f", 1);
        assert_eq!(d.to_string(), "f:1:1: error: bad (expected good)");
        let d = LineErr::new(1, "", "bad").at("f", 1);
        assert_eq!(d.to_string(), "f:1:1: error: bad");
    }
}
