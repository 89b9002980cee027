//! The one writer of the product to stdout.
//!
//! stdout carries only what a command produces (the ExecCredential, a kubeconfig, a listing, a
//! completion script), written in one piece and flushed. A reader that went away (`| head`, a
//! closed pipe) is not an error worth a message: the product was not wanted any more, so the
//! command ends quietly with success, and never panics the way `print!` would.

use crate::error::AppError;
use std::io::{self, Write};

/// Writes `text` to stdout and flushes it.
pub fn print(text: &str) -> Result<(), AppError> {
    write_to(&mut io::stdout().lock(), text.as_bytes())
}

/// Writes `bytes` to `out` and flushes it; a closed pipe is a quiet success.
fn write_to(out: &mut impl Write, bytes: &[u8]) -> Result<(), AppError> {
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => other.map_err(AppError::Output),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Closed;

    impl Write for Closed {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::ErrorKind::BrokenPipe.into())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    struct Full;

    impl Write for Full {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::from_raw_os_error(28)) // ENOSPC
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_closed_pipe_is_a_quiet_success_and_other_failures_are_errors() {
        assert!(write_to(&mut Closed, b"x").is_ok());
        assert!(matches!(
            write_to(&mut Full, b"x"),
            Err(AppError::Output(_))
        ));
        let mut buffer = Vec::new();
        assert!(write_to(&mut buffer, b"abc").is_ok());
        assert_eq!(buffer, b"abc");
    }
}
