//! Test helpers: round-trip one rule line through restore → save.

use crate::{parse_restore, save, Diagnostic, SaveOptions};
use palisade_model::{Family, TableId};

fn wrap(table: TableId, line: &str) -> String {
    format!(
        "*{}\n:TCP - [0:0]\n:UDP - [0:0]\n:USR - [0:0]\n{line}\nCOMMIT\n",
        table.name()
    )
}

/// Parses `line` in `table` and asserts the saved `-A` lines equal `expected`.
pub(crate) fn rt(fam: Family, table: TableId, line: &str, expected: &str) {
    let rs = parse_restore(&wrap(table, line), "t", fam).unwrap_or_else(|e| {
        panic!(
            "{line}: {}",
            e.iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        )
    });
    let out = save(&rs, &SaveOptions::default());
    let got: Vec<&str> = out.lines().filter(|l| l.starts_with("-A")).collect();
    assert_eq!(got.join("\n"), expected, "input: {line}");
    // Canonical text is a fixed point.
    let again = parse_restore(&out, "t2", fam).unwrap_or_else(|e| panic!("reparse {out}: {e:?}"));
    assert_eq!(save(&again, &SaveOptions::default()), out);
}

pub(crate) fn rt4(line: &str, expected: &str) {
    rt(Family::V4, TableId::Filter, line, expected)
}

pub(crate) fn rt6(line: &str, expected: &str) {
    rt(Family::V6, TableId::Filter, line, expected)
}

/// The first diagnostic for `line` (columns are within the line).
pub(crate) fn err(fam: Family, table: TableId, line: &str) -> Diagnostic {
    match parse_restore(&wrap(table, line), "t", fam) {
        Ok(_) => panic!("accepted: {line}"),
        Err(e) => e.into_iter().next().expect("at least one diagnostic"),
    }
}

pub(crate) fn err4(line: &str) -> Diagnostic {
    err(Family::V4, TableId::Filter, line)
}
