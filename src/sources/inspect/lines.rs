//! Log bytes into lines, bounded: a stream that never sends a newline (or
//! sends megabytes before one) must not grow a buffer without end, so a
//! line longer than [`MAX_LINE`] bytes is cut and the rest of it skipped.

/// The longest line kept, in bytes; the rest of a longer one is dropped.
pub const MAX_LINE: usize = 8 * 1024;

/// What a cut line ends with, so nobody takes it for the whole line.
pub const CUT_MARK: &str = " …(line cut at 8 KiB)";

/// Splits a byte stream into lines across chunk boundaries.
#[derive(Debug, Default)]
pub struct LineSplitter {
    carry: Vec<u8>,
    /// Inside a line already cut: drop bytes up to its newline.
    skipping: bool,
}

impl LineSplitter {
    /// Feeds `bytes`; every line finished by them goes to `out`.
    pub fn push(&mut self, bytes: &[u8], out: &mut Vec<String>) {
        let mut rest = bytes;
        while !rest.is_empty() {
            let newline = rest.iter().position(|b| *b == b'\n');
            let (piece, after) = match newline {
                Some(i) => (&rest[..i], Some(&rest[i + 1..])),
                None => (rest, None),
            };
            if !self.skipping {
                let room = MAX_LINE - self.carry.len();
                self.carry
                    .extend_from_slice(&piece[..piece.len().min(room)]);
                if piece.len() > room {
                    out.push(self.take(true));
                    self.skipping = true;
                }
            }
            match after {
                Some(after) => {
                    if !self.skipping {
                        out.push(self.take(false));
                    }
                    self.skipping = false;
                    rest = after;
                }
                None => break,
            }
        }
    }

    /// The last line, when the stream ended without a newline.
    pub fn finish(&mut self, out: &mut Vec<String>) {
        if !self.carry.is_empty() {
            out.push(self.take(false));
        }
    }

    fn take(&mut self, cut: bool) -> String {
        let mut bytes = std::mem::take(&mut self.carry);
        if bytes.last() == Some(&b'\r') {
            bytes.pop();
        }
        let mut line = String::from_utf8_lossy(&bytes).into_owned();
        if cut {
            line.push_str(CUT_MARK);
        }
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_join_across_chunks_and_crlf_is_one_end() {
        let mut s = LineSplitter::default();
        let mut out = Vec::new();
        s.push(b"one\r\ntw", &mut out);
        s.push(b"o\nthree", &mut out);
        assert_eq!(out, ["one", "two"]);
        s.finish(&mut out);
        assert_eq!(out, ["one", "two", "three"]);
    }

    #[test]
    fn an_endless_line_is_cut_and_the_next_one_kept() {
        let mut s = LineSplitter::default();
        let mut out = Vec::new();
        for _ in 0..100 {
            s.push(&[b'x'; 1000], &mut out);
        }
        assert_eq!(out.len(), 1);
        assert!(out[0].ends_with(CUT_MARK));
        assert_eq!(out[0].len(), MAX_LINE + CUT_MARK.len());
        s.push(b"xx\nnext\n", &mut out);
        assert_eq!(out[1], "next");
    }
}
