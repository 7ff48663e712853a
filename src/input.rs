//! Input files read with a bound. Every file a step reads (a task definition, a buildspec, a scan
//! report, `config.json`, `.dockerignore`, stdin) is read through [`read_to_string`], so a device
//! such as `/dev/zero`, a pipe that never ends or a runaway file is an error naming the limit, not
//! memory exhausted. The error is an [`io::Error`] (`FileTooLarge`), so callers name the file as
//! they do for any read error.

use std::io::{self, Read};
use std::path::Path;

/// The most any document is read: task definitions, AppSpecs, buildspecs, allowlists, env files,
/// `config.json`, `imageDetail.json`, event payloads, `.dockerignore`.
pub const DOCUMENT_LIMIT: u64 = 16 << 20;

/// The most a scanner report is read (the largest real ones are tens of MB).
pub const REPORT_LIMIT: u64 = 256 << 20;

/// The text of `path`, at most `limit` bytes (more is an error); invalid UTF-8 is an error as in
/// [`std::fs::read_to_string`].
pub fn read_to_string(path: &Path, limit: u64) -> io::Result<String> {
    read_all(std::fs::File::open(path)?, limit)
}

/// All of `reader` as text, at most `limit` bytes.
pub fn read_all(reader: impl Read, limit: u64) -> io::Result<String> {
    let mut bytes = Vec::new();
    reader.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(io::Error::new(
            io::ErrorKind::FileTooLarge,
            format!("larger than {}, the most read as input", shown(limit)),
        ));
    }
    String::from_utf8(bytes)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "not UTF-8 text"))
}

/// `16 MiB`, `1 GiB`.
fn shown(limit: u64) -> String {
    if limit >= 1 << 30 && limit.is_multiple_of(1 << 30) {
        format!("{} GiB", limit >> 30)
    } else if limit >= 1 << 20 && limit.is_multiple_of(1 << 20) {
        format!("{} MiB", limit >> 20)
    } else {
        format!("{limit} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_endless_input_stops_at_the_limit() {
        let e = read_to_string(Path::new("/dev/zero"), 1 << 20).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::FileTooLarge);
        assert_eq!(e.to_string(), "larger than 1 MiB, the most read as input");
        assert_eq!(read_all(&b"abc"[..], 3).unwrap(), "abc");
        assert!(read_all(&b"abcd"[..], 3).is_err());
        assert_eq!(
            read_all(&b"\xff"[..], 3).unwrap_err().kind(),
            io::ErrorKind::InvalidData
        );
    }
}
