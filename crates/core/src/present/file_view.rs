//! A file's first bytes as a person reads them: text when they are text, else a hex dump.
//!
//! The page's file viewer shows the first [`PREVIEW_BYTES`] of a file that
//! [`crate::engine::extract`] took out of its layer; [`classify`] decides how, and
//! [`hex_dump`] writes the dump in `xxd`'s layout, so what the page shows matches what a
//! person gets from `xxd` on the extracted file.

use std::fmt::Write;

/// How much of a file the viewer previews.
pub const PREVIEW_BYTES: u64 = 1024 * 1024;

/// Most bytes [`hex_dump`] renders (the preview's size: the dump of 1 MiB is about 4.3 MB of
/// text, which a windowed view handles and a page can hold).
pub const MAX_HEX_DUMP_BYTES: usize = PREVIEW_BYTES as usize;

/// Bytes per line of a hex dump, as `xxd` prints them.
pub const HEX_LINE_BYTES: usize = 16;

/// How a preview is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Preview<'a> {
    /// Valid UTF-8 without NUL bytes: shown as text (a character cut by the preview's end is
    /// left out).
    Text(&'a str),
    /// Anything else: shown as a hex dump, for this reason.
    Binary(BinaryReason),
}

/// Why a preview is not text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryReason {
    /// A NUL byte at this offset.
    NulByte {
        /// Offset in the preview.
        offset: usize,
    },
    /// Bytes that are not UTF-8 from this offset.
    InvalidUtf8 {
        /// Offset in the preview.
        offset: usize,
    },
}

/// Decides whether `bytes` (a file's first bytes; `truncated` when the file goes on) read as
/// text.
///
/// Text means valid UTF-8 with no NUL byte. UTF-8 because that is what images' text files
/// (configs, scripts, licences) are written in, and because any other encoding guessed wrong
/// would show a person garbage as if it were the file. No NUL because text files never hold
/// one while almost every binary format does early on (ELF headers, archives, images,
/// compiled Python), and a few bytes of a binary can happen to be valid UTF-8. When the
/// preview stops before the file's end, its last character may be cut in half by the cut;
/// that is not a sign of a binary, so up to three trailing bytes of an incomplete sequence
/// are dropped from the text instead.
pub fn classify(bytes: &[u8], truncated: bool) -> Preview<'_> {
    if let Some(offset) = bytes.iter().position(|&b| b == 0) {
        return Preview::Binary(BinaryReason::NulByte { offset });
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => Preview::Text(text),
        // `error_len() == None`: the input ends inside a character, which the cut explains.
        Err(e) if truncated && e.error_len().is_none() => {
            let valid = &bytes[..e.valid_up_to()];
            Preview::Text(std::str::from_utf8(valid).expect("valid up to here"))
        }
        Err(e) => Preview::Binary(BinaryReason::InvalidUtf8 {
            offset: e.valid_up_to(),
        }),
    }
}

/// One `xxd` line: the offset, 16 bytes in hex in groups of two, and the bytes as ASCII
/// with `.` for anything not printable. `bytes` holds at most [`HEX_LINE_BYTES`] (a shorter
/// last line is padded so its text column lines up).
pub fn hex_line(offset: u64, bytes: &[u8]) -> String {
    let bytes = &bytes[..bytes.len().min(HEX_LINE_BYTES)];
    let mut line = String::with_capacity(68);
    let _ = write!(line, "{offset:08x}:");
    // The hex column's full width: 8 groups of 4 digits, each after a space.
    let hex_end = line.len() + (HEX_LINE_BYTES / 2) * 5;
    for pair in 0..HEX_LINE_BYTES / 2 {
        line.push(' ');
        for byte in bytes.iter().skip(pair * 2).take(2) {
            let _ = write!(line, "{byte:02x}");
        }
    }
    while line.len() < hex_end {
        line.push(' ');
    }
    line.push_str("  ");
    line.extend(bytes.iter().map(|&b| {
        if (0x20..0x7f).contains(&b) {
            b as char
        } else {
            '.'
        }
    }));
    line
}

/// The `xxd` dump of `bytes`, the first at file offset `base_offset`: one [`hex_line`] per
/// 16 bytes, each ended by a newline. At most [`MAX_HEX_DUMP_BYTES`] are rendered.
pub fn hex_dump(bytes: &[u8], base_offset: u64) -> String {
    let bytes = &bytes[..bytes.len().min(MAX_HEX_DUMP_BYTES)];
    let mut dump = String::with_capacity(bytes.len().div_ceil(HEX_LINE_BYTES) * 69);
    for (i, chunk) in bytes.chunks(HEX_LINE_BYTES).enumerate() {
        dump.push_str(&hex_line(base_offset + (i * HEX_LINE_BYTES) as u64, chunk));
        dump.push('\n');
    }
    dump
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_utf8_without_nul() {
        assert_eq!(classify(b"hello\n", false), Preview::Text("hello\n"));
        assert_eq!(classify("größe".as_bytes(), false), Preview::Text("größe"));
        assert_eq!(classify(b"", false), Preview::Text(""));
        assert_eq!(
            classify(b"\x7fELF\x02\x01\x01\x00", false),
            Preview::Binary(BinaryReason::NulByte { offset: 7 })
        );
        assert_eq!(
            classify(b"caf\xe9 au lait", false),
            Preview::Binary(BinaryReason::InvalidUtf8 { offset: 3 })
        );
    }

    #[test]
    fn a_character_cut_by_the_preview_is_dropped_not_called_binary() {
        let text = "ab€".as_bytes(); // € is three bytes
        let cut = &text[..4];
        assert_eq!(classify(cut, true), Preview::Text("ab"));
        // The same bytes as a whole file end inside a character: not text.
        assert_eq!(
            classify(cut, false),
            Preview::Binary(BinaryReason::InvalidUtf8 { offset: 2 })
        );
        // A bad byte before the end is not explained by the cut.
        assert_eq!(
            classify(b"a\xffb\xe2\x82", true),
            Preview::Binary(BinaryReason::InvalidUtf8 { offset: 1 })
        );
    }

    #[test]
    fn the_dump_matches_xxd() {
        // `printf 'Hello, world\n\x00\x01\xff abc' | xxd`
        let dump = hex_dump(b"Hello, world\n\x00\x01\xff abc", 0);
        assert_eq!(
            dump,
            "00000000: 4865 6c6c 6f2c 2077 6f72 6c64 0a00 01ff  Hello, world....\n\
             00000010: 2061 6263                                 abc\n"
        );
        assert_eq!(hex_dump(b"", 0), "");
        assert!(hex_line(0x1_0000_0000, b"x").starts_with("100000000: 78 "));
    }

    #[test]
    fn the_dump_is_bounded() {
        let bytes = vec![0u8; MAX_HEX_DUMP_BYTES + 4096];
        let dump = hex_dump(&bytes, 0);
        assert_eq!(dump.lines().count(), MAX_HEX_DUMP_BYTES / HEX_LINE_BYTES);
    }
}
