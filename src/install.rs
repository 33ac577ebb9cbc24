//! What an installed server needs beyond the app: a cookie key that lasts (made once in the
//! state directory), database files owned by the service's user, and the address to open.

use std::net::SocketAddr;
use std::path::Path;

use anyhow::Context;

/// The cookie key's text: `SECRET_KEY` when set, else the key file's content, made on first
/// use. `None` when neither is set (a random key, sessions die with the process).
pub fn secret_key(env: Option<String>, file: Option<&Path>) -> anyhow::Result<Option<String>> {
    if let Some(s) = env.filter(|s| !s.trim().is_empty()) {
        return Ok(Some(s));
    }
    let Some(path) = file else {
        return Ok(None);
    };
    match std::fs::read_to_string(path) {
        Ok(s) => {
            anyhow::ensure!(
                !s.trim().is_empty(),
                "the cookie key file {} is empty: remove it to have a new key made",
                path.display()
            );
            Ok(Some(s))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            use rand::RngCore as _;
            use std::io::Write as _;
            use std::os::unix::fs::OpenOptionsExt as _;
            let mut bytes = [0u8; 64];
            rand::rng().fill_bytes(&mut bytes);
            let text = hex::encode(bytes);
            // Written whole under another name, then linked into place: a crash leaves no
            // half key, and of two first starts at once one key wins and both use it.
            let tmp = path.with_extension(format!("new-{}", std::process::id()));
            let _ = std::fs::remove_file(&tmp);
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)
                .with_context(|| format!("making the cookie key file {}", path.display()))?;
            f.write_all(text.as_bytes())?;
            f.sync_all()?;
            drop(f);
            let linked = std::fs::hard_link(&tmp, path);
            let _ = std::fs::remove_file(&tmp);
            match linked {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    return secret_key(None, Some(path));
                }
                Err(e) => {
                    return Err(e)
                        .with_context(|| format!("making the cookie key file {}", path.display()))
                }
            }
            tracing::info!(file = %path.display(), "made a new cookie key");
            Ok(Some(text))
        }
        Err(e) => Err(e).with_context(|| format!("reading the cookie key file {}", path.display())),
    }
}

/// This machine's name: the kernel's, else `/etc/hostname` (the service's `ProcSubset=pid`
/// hides `/proc/sys`).
pub fn host_name() -> Option<String> {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .map(|h| h.trim().to_string())
        .find(|h| !h.is_empty())
}

/// The address to open in a browser: a wildcard bind is reached by this machine's name.
pub fn open_at(addr: SocketAddr) -> String {
    if !addr.ip().is_unspecified() {
        return format!("http://{addr}/");
    }
    let host = host_name().unwrap_or_else(|| "this-machine".into());
    format!(
        "http://{host}:{}/ (every address of this machine)",
        addr.port()
    )
}

/// Gives the database files the data directory's owner. Run as root on an installed
/// package, the user commands would otherwise leave files the service cannot write.
pub fn match_owner(dir: &Path) {
    use std::os::unix::fs::MetadataExt as _;
    let Ok(owner) = std::fs::metadata(dir) else {
        return;
    };
    for name in ["meshdeck.db", "meshdeck.db-wal", "meshdeck.db-shm"] {
        let path = dir.join(name);
        // Never through a link: the directory is the service's, whatever it put there.
        let Ok(m) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if !m.file_type().is_file() || (m.uid(), m.gid()) == (owner.uid(), owner.gid()) {
            continue;
        }
        if let Err(e) = std::os::unix::fs::lchown(&path, Some(owner.uid()), Some(owner.gid())) {
            eprintln!(
                "warning: {} is not owned by the data directory's owner: {e}",
                path.display()
            );
        }
    }
}

/// A terminal's echo turned off until this is dropped, for a password typed at it. The
/// newline still shows (`ECHONL`), so the next output starts on a line of its own.
pub struct NoEcho {
    fd: std::os::fd::RawFd,
    was: libc::termios,
}

impl NoEcho {
    pub fn on(tty: &impl std::os::fd::AsRawFd) -> std::io::Result<NoEcho> {
        let fd = tty.as_raw_fd();
        let mut was = std::mem::MaybeUninit::<libc::termios>::uninit();
        // SAFETY: `was` is a termios for tcgetattr to fill; `fd` is open for as long as the
        // borrow that gave it.
        if unsafe { libc::tcgetattr(fd, was.as_mut_ptr()) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: tcgetattr succeeded, so it filled the whole struct.
        let was = unsafe { was.assume_init() };
        let mut quiet = was;
        quiet.c_lflag &= !libc::ECHO;
        quiet.c_lflag |= libc::ECHONL;
        // SAFETY: a termios copied from the terminal's own, on the same open fd.
        if unsafe { libc::tcsetattr(fd, libc::TCSANOW, &quiet) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(NoEcho { fd, was })
    }
}

impl Drop for NoEcho {
    fn drop(&mut self) {
        // SAFETY: the settings tcgetattr gave for this fd, put back.
        unsafe {
            libc::tcsetattr(self.fd, libc::TCSANOW, &self.was);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    #[test]
    fn the_key_file_is_made_once_owner_only_and_read_back() {
        let dir = std::env::temp_dir().join(format!("meshdeck-key-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("secret_key");
        let _ = std::fs::remove_file(&path);
        let made = secret_key(None, Some(&path)).unwrap().unwrap();
        assert_eq!(made.len(), 128, "64 bytes in hex");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(secret_key(None, Some(&path)).unwrap().unwrap(), made);
        assert!(crate::cookie_key(Some(&made)).is_ok());
        // The environment wins over the file; nothing set means no lasting key.
        let env = Some("ab".repeat(64));
        assert_eq!(secret_key(env.clone(), Some(&path)).unwrap(), env);
        assert_eq!(secret_key(Some("  ".into()), None).unwrap(), None);
        std::fs::write(&path, "\n").unwrap();
        assert!(
            secret_key(None, Some(&path)).is_err(),
            "an empty key file is an error"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_wildcard_bind_is_opened_by_the_machine_name() {
        assert_eq!(
            open_at("127.0.0.1:5000".parse().unwrap()),
            "http://127.0.0.1:5000/"
        );
        let any = open_at("0.0.0.0:5000".parse().unwrap());
        assert!(
            any.starts_with("http://") && any.contains(":5000/"),
            "{any}"
        );
        assert!(!any.contains("0.0.0.0"), "{any}");
    }
}
