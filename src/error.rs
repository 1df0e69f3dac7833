//! An I/O failure that keeps the path it happened on and what was being done there.
//!
//! Why a type and not a formatted string: a `(PathBuf, String)` pair loses the error's kind
//! (a caller cannot ask "was it EACCES?") and every site formats it its own way. `PathError`
//! keeps the `io::Error` whole (its kind and OS code), the path apart from the message (lists
//! print `path: reason`, sorted by path), and one wording: ``cannot <op> `<path>`: <cause>`` when
//! it stands alone, `cannot <op>: <cause>` beside its path. The `ignore` crate's
//! `Error::WithPath` is the model: the path is a field, the cause stays the original error.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// An `io::Error` on `path` while doing `op` (a verb phrase: "read", "copy", "set mtime").
#[derive(Debug)]
pub struct PathError {
    path: PathBuf,
    op: &'static str,
    source: io::Error,
}

impl PathError {
    /// `source` happened while doing `op` on `path`.
    pub fn new(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> PathError {
        PathError {
            path: path.into(),
            op,
            source,
        }
    }

    /// A walkdir error: its path (when it has one) and its I/O error (a loop, which walkdir
    /// reports without one, becomes an `io::Error` carrying walkdir's message).
    pub fn from_walkdir(op: &'static str, err: walkdir::Error) -> PathError {
        let path = err.path().map(Path::to_path_buf).unwrap_or_default();
        PathError::new(op, path, io::Error::from(err))
    }

    /// The path the operation failed on (as given: relative paths stay relative).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The underlying I/O error, with its kind and OS error code.
    pub fn io_error(&self) -> &io::Error {
        &self.source
    }

    /// The underlying I/O error, owned (the path and `op` are dropped).
    pub fn into_io_error(self) -> io::Error {
        self.source
    }

    /// The same error with `path` replaced (e.g. made relative to a root).
    pub fn with_path(self, path: impl Into<PathBuf>) -> PathError {
        PathError {
            path: path.into(),
            ..self
        }
    }

    /// The message without the path, for lists that print the path beside it:
    /// `cannot copy: Permission denied (os error 13)`.
    pub fn reason(&self) -> String {
        format!("cannot {}: {}", self.op, self.source)
    }
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cannot {} `{}`: {}",
            self.op,
            self.path.display(),
            self.source
        )
    }
}

impl std::error::Error for PathError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// For code that returns `io::Result`: the kind is kept, the message gains the path and `op`.
impl From<PathError> for io::Error {
    fn from(e: PathError) -> io::Error {
        io::Error::new(e.source.kind(), e)
    }
}

/// `op` on `path`, as a closure for `map_err`: `fs::copy(a, b).map_err(at("copy", b))`.
pub fn at<'p>(op: &'static str, path: &'p Path) -> impl FnOnce(io::Error) -> PathError + 'p {
    move |source| PathError::new(op, path, source)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_the_path_and_reason_does_not() {
        let e = PathError::new(
            "set mtime",
            "lib/site-packages/a.py",
            io::Error::from_raw_os_error(libc::EACCES),
        );
        assert_eq!(
            e.to_string(),
            "cannot set mtime `lib/site-packages/a.py`: Permission denied (os error 13)"
        );
        assert_eq!(
            e.reason(),
            "cannot set mtime: Permission denied (os error 13)"
        );
        assert_eq!(e.io_error().kind(), io::ErrorKind::PermissionDenied);
        assert_eq!(e.path(), Path::new("lib/site-packages/a.py"));
        let src = std::error::Error::source(&e).map(|s| s.to_string());
        assert_eq!(src.as_deref(), Some("Permission denied (os error 13)"));
    }

    #[test]
    fn into_io_error_keeps_the_kind_and_the_words() {
        let e = at("copy", Path::new("x"))(io::Error::from_raw_os_error(libc::ENOSPC));
        let io: io::Error = e.into();
        assert_eq!(io.kind(), io::ErrorKind::StorageFull);
        assert!(io.to_string().starts_with("cannot copy `x`: "), "{io}");
    }

    #[test]
    fn walkdir_errors_keep_path_and_kind() {
        let t = tempfile::tempdir().unwrap();
        let missing = t.path().join("gone");
        let err = walkdir::WalkDir::new(&missing)
            .into_iter()
            .find_map(Result::err)
            .unwrap();
        let e = PathError::from_walkdir("read", err).with_path("gone");
        assert_eq!(e.path(), Path::new("gone"));
        assert_eq!(e.io_error().kind(), io::ErrorKind::NotFound);
        assert!(e.reason().starts_with("cannot read: "), "{}", e.reason());
    }
}
