//! Standard output that fails instead of panicking: when the reader goes away
//! (`sesskey session list | head -1`), the command ends quietly.

/// `println!`, except that a failed write (a closed pipe, a full disk) is an `io::Error` to
/// return, not a panic, and that what is printed is made safe for a terminal first
/// ([`terminal_safe`]): text a server or a contract controls (a revert reason, an error message)
/// can hold escape sequences.
macro_rules! outln {
    () => {
        $crate::out::write_line(format_args!(""))
    };
    ($($arg:tt)*) => {
        $crate::out::write_line(format_args!($($arg)*))
    };
}

/// Writes one line to standard output, made safe for a terminal.
pub(crate) fn write_line(args: std::fmt::Arguments<'_>) -> std::io::Result<()> {
    use std::io::Write as _;
    let text = args.to_string();
    writeln!(std::io::stdout().lock(), "{}", terminal_safe(&text))
}

/// Whether a character could act on a terminal or reorder what it shows: control characters
/// (C0 but newline and tab, DEL, C1: escape sequences, OSC, bells) and the bidirectional
/// controls (overrides, embeddings, isolates, marks).
fn is_unsafe(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t')
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{061c}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `text` with every character that could act on a terminal written as a `\uXXXX` escape: what
/// it says stays readable, nothing in it runs. The escape is JSON's, so JSON output stays valid
/// JSON meaning the same.
///
/// ```
/// use sesskey_cli::terminal_safe;
///
/// assert_eq!(terminal_safe("reverted: \u{1b}]52;c;ZXZpbA==\u{7}"), "reverted: \\u001b]52;c;ZXZpbA==\\u0007");
/// assert_eq!(terminal_safe("pay \u{202e}0001"), "pay \\u202e0001");
/// assert_eq!(terminal_safe("plain\nlines"), "plain\nlines");
/// ```
pub fn terminal_safe(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(is_unsafe) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if is_unsafe(c) {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Whether `e` comes from writing to a reader that went away.
pub fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
