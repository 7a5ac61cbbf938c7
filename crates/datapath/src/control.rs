//! The daemon's control socket: a Unix stream socket (default
//! [`DEFAULT_PATH`]), mode 0600 and owned by the daemon's user (root), so
//! only root may talk to it. The protocol is one request line
//! (`status` or `reload`) and one answer: a first line `ok` or `error`, then
//! free text, then the server closes the connection.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::time::Duration;

/// Where the daemon listens unless told otherwise.
pub const DEFAULT_PATH: &str = "/run/palisade.sock";

/// A request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request {
    /// Counters, conntrack entries, queue statistics.
    Status,
    /// Re-read the ruleset files.
    Reload,
}

impl Request {
    /// Parses a request line.
    pub fn parse(line: &str) -> Option<Request> {
        match line.trim() {
            "status" => Some(Request::Status),
            "reload" => Some(Request::Reload),
            _ => None,
        }
    }

    fn word(self) -> &'static str {
        match self {
            Request::Status => "status",
            Request::Reload => "reload",
        }
    }
}

/// An answer: success flag and text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    /// `ok` (true) or `error`.
    pub ok: bool,
    /// The body.
    pub text: String,
}

/// Binds the socket, replacing a stale socket file, with mode 0600.
pub fn listen(path: &Path) -> io::Result<UnixListener> {
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        use std::os::unix::fs::FileTypeExt;
        if meta.file_type().is_socket() {
            // A live daemon answers; only a dead one's socket is removed.
            if UnixStream::connect(path).is_ok() {
                return Err(io::Error::new(
                    io::ErrorKind::AddrInUse,
                    format!("{} is in use: is palisade already running?", path.display()),
                ));
            }
            std::fs::remove_file(path)?;
        }
    }
    let l = UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(l)
}

/// Serves one connection: reads the request, answers with `handle`.
pub fn serve_one(
    mut stream: UnixStream,
    handle: &mut dyn FnMut(Request) -> Answer,
) -> io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut line = String::new();
    BufReader::new(&mut stream).take(256).read_line(&mut line)?;
    let answer = match Request::parse(&line) {
        Some(r) => handle(r),
        None => Answer {
            ok: false,
            text: format!("unknown request {:?}; try status or reload\n", line.trim()),
        },
    };
    stream.write_all(if answer.ok { b"ok\n" } else { b"error\n" })?;
    stream.write_all(answer.text.as_bytes())?;
    stream.flush()
}

/// Client side: sends `req` to the daemon at `path` and returns its answer.
pub fn request(path: &Path, req: Request) -> io::Result<Answer> {
    let mut s = UnixStream::connect(path).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("cannot reach the daemon at {}: {e}", path.display()),
        )
    })?;
    s.write_all(req.word().as_bytes())?;
    s.write_all(b"\n")?;
    let mut all = String::new();
    s.read_to_string(&mut all)?;
    let (first, rest) = all.split_once('\n').unwrap_or((all.as_str(), ""));
    Ok(Answer {
        ok: first == "ok",
        text: rest.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_over_a_socket() {
        let dir = std::env::temp_dir().join(format!("palisade-ctl-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("ctl.sock");
        let l = listen(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let server = std::thread::spawn(move || {
            for _ in 0..2 {
                let (s, _) = l.accept().unwrap();
                serve_one(s, &mut |r| Answer {
                    ok: r == Request::Status,
                    text: format!("{r:?}\n"),
                })
                .unwrap();
            }
        });
        let a = request(&path, Request::Status).unwrap();
        assert_eq!(
            a,
            Answer {
                ok: true,
                text: "Status\n".into()
            }
        );
        let b = request(&path, Request::Reload).unwrap();
        assert!(!b.ok);
        server.join().unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    }
}
