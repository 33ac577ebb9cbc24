//! What an installed server does on its own: the first-run advice on the page, a cookie key
//! kept in the state directory, and a clean stop on the service manager's SIGTERM.

use std::process::Stdio;

use scraper::{Html, Selector};

use crate::helpers::*;

fn first_run_command(html: &str) -> Option<String> {
    let doc = Html::parse_document(html);
    let sel = Selector::parse("#first-run code").unwrap();
    doc.select(&sel).next().map(|e| e.text().collect())
}

#[tokio::test]
async fn with_no_users_the_page_gives_the_command_that_adds_the_first_admin_and_it_works() {
    let app = spawn_app().await;
    let b = app.browser();
    let (code, html) = b.get_html("/").await;
    assert_eq!(code, 200);
    let cmd = first_run_command(&html).expect("the first-run advice");
    assert!(!html.contains("Log out"), "nobody to log out");
    let dir = std::path::absolute(&app.dir.0).unwrap();
    assert_eq!(
        cmd,
        format!(
            "meshdeck --data-dir {} user add admin --role admin",
            dir.display()
        )
    );
    // Run it as written (the binary for `meshdeck`), the password on the next line.
    let words: Vec<&str> = cmd.split(' ').collect();
    assert_eq!(words[0], "meshdeck");
    let out = run_with_input(meshdeck().args(&words[1..]), "first admin pass\n");
    assert!(out.status.success(), "{out:?}");
    app.app.state.refresh_users().await;
    assert_eq!(b.get_json("/api/status").await.0, 401, "login is on now");
    assert_eq!(b.login("admin", "first admin pass").await, 303);
    let (code, html) = b.get_html("/").await;
    assert_eq!(code, 200);
    assert_eq!(
        first_run_command(&html),
        None,
        "no advice once a user exists"
    );
}

/// The binary as the unit starts it: settings from the environment, the cookie key from
/// `SECRET_KEY_FILE` (made on the first start, the same after a restart), and SIGTERM
/// ending it cleanly.
#[tokio::test]
async fn the_binary_makes_its_key_file_once_and_stops_cleanly_on_sigterm() {
    let dir = TempDir::new();
    let key = dir.0.join("secret_key");
    let start = || {
        listening(
            meshdeck()
                .env_clear()
                .env("MESHDECK_BIND", "127.0.0.1:0")
                .env("MESHDECK_DATA_DIR", &dir.0)
                .env("SECRET_KEY_FILE", &key)
                .stderr(Stdio::null()),
        )
    };
    let (mut first, base) = start();
    let health = reqwest::get(format!("{base}/healthz")).await.unwrap();
    assert_eq!(health.text().await.unwrap(), "ok");
    let made = std::fs::read_to_string(&key).unwrap();
    assert_eq!(made.len(), 128);
    if cfg!(all(target_os = "linux", target_env = "gnu")) {
        assert!(
            thread_names(first.id()).iter().any(|n| n == "malloc-trim"),
            "the server trims malloc's free pages: {:?}",
            thread_names(first.id())
        );
    }
    assert!(terminate(&mut first).success(), "SIGTERM is a clean stop");
    let (mut second, _) = start();
    assert_eq!(std::fs::read_to_string(&key).unwrap(), made, "the same key");
    assert!(terminate(&mut second).success());
}

/// The server starts itself again with glibc's per-thread cache at one block per size,
/// keeping what `GLIBC_TUNABLES` says (and what it says of that cache), the same process.
#[test]
fn the_server_runs_with_a_small_malloc_thread_cache_unless_told_otherwise() {
    if !cfg!(all(target_os = "linux", target_env = "gnu")) {
        return;
    }
    let dir = TempDir::new();
    let run = |tunables: Option<&str>| {
        let mut cmd = meshdeck();
        cmd.env_clear()
            .env("MESHDECK_BIND", "127.0.0.1:0")
            .env("MESHDECK_DATA_DIR", &dir.0)
            .stderr(Stdio::null());
        if let Some(t) = tunables {
            cmd.env("GLIBC_TUNABLES", t);
        }
        let (mut child, _) = listening(&mut cmd);
        // glibc cuts the variable at its colons in place as it reads it: the raw bytes.
        let environ = std::fs::read(format!("/proc/{}/environ", child.id())).unwrap();
        assert!(terminate(&mut child).success());
        String::from_utf8_lossy(&environ).replace('\0', " ")
    };
    let has = |environ: &str, what: &[&str]| what.iter().all(|w| environ.contains(w));
    let plain = run(None);
    assert!(
        has(
            &plain,
            &[
                "GLIBC_TUNABLES=glibc.malloc.tcache_count=1",
                "MESHDECK_MALLOC_TUNED=1"
            ]
        ),
        "{plain}"
    );
    let more = run(Some("glibc.malloc.trim_threshold=262144"));
    assert!(
        has(
            &more,
            &[
                "GLIBC_TUNABLES=glibc.malloc.trim_threshold=262144",
                "glibc.malloc.tcache_count=1"
            ]
        ),
        "{more}"
    );
    let told = run(Some("glibc.malloc.tcache_count=7"));
    assert!(
        has(&told, &["GLIBC_TUNABLES=glibc.malloc.tcache_count=7"]),
        "{told}"
    );
    assert!(!told.contains("tcache_count=1"), "{told}");
}

/// The names of a process's threads (`/proc/PID/task/*/comm`).
fn thread_names(pid: u32) -> Vec<String> {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|tasks| {
            tasks
                .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
                .map(|n| n.trim().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// A pseudo-terminal: (master, slave).
fn pty() -> (std::fs::File, std::os::fd::OwnedFd) {
    use std::os::fd::FromRawFd;
    let (mut master, mut slave) = (-1, -1);
    // SAFETY: openpty fills two fds; name, settings and size are left to it.
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: both fds were just opened for us and are owned nowhere else.
    unsafe {
        (
            std::fs::File::from_raw_fd(master),
            std::os::fd::OwnedFd::from_raw_fd(slave),
        )
    }
}

/// `user add` at a terminal asks for the password, does not show it as it is typed, and
/// leaves the terminal echoing again. (Piped, as the test above and scripts do, it reads the
/// line as before.)
#[test]
fn user_add_at_a_terminal_does_not_show_the_password_and_puts_echo_back() {
    use std::io::{Read, Write};
    use std::sync::{Arc, Mutex};
    let dir = TempDir::new();
    let (master, slave) = pty();
    let mut child = meshdeck()
        .args(["--data-dir", dir.0.to_str().unwrap()])
        .args(["user", "add", "alice", "--role", "admin"])
        .stdin(Stdio::from(slave.try_clone().unwrap()))
        .stdout(Stdio::from(slave.try_clone().unwrap()))
        .stderr(Stdio::from(slave))
        .spawn()
        .unwrap();
    // Everything the terminal shows, read on a thread until the child's side closes.
    let shown = Arc::new(Mutex::new(Vec::new()));
    let reader = {
        let (shown, mut master) = (shown.clone(), master.try_clone().unwrap());
        std::thread::spawn(move || {
            let mut buf = [0u8; 512];
            while let Ok(n) = master.read(&mut buf) {
                if n == 0 {
                    break;
                }
                shown.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        })
    };
    let text = || String::from_utf8_lossy(&shown.lock().unwrap()).into_owned();
    // Typed once it asks, as a person would.
    let asked = std::time::Instant::now();
    while !text().contains("not shown): ") {
        assert!(asked.elapsed().as_secs() < 20, "no question: {:?}", text());
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    (&master).write_all(b"terminal secret 42\n").unwrap();
    let status = child.wait().unwrap();
    reader.join().unwrap();
    let shown = text();
    assert!(status.success(), "{shown:?}");
    assert!(shown.contains("user alice (admin) saved"), "{shown:?}");
    assert!(
        !shown.contains("terminal secret"),
        "the password showed: {shown:?}"
    );
    // The terminal echoes again (the settings are the pseudo-terminal's, read at its master).
    let mut now = std::mem::MaybeUninit::<libc::termios>::uninit();
    // SAFETY: a termios for tcgetattr to fill, on the open master.
    let rc = unsafe { libc::tcgetattr(std::os::fd::AsRawFd::as_raw_fd(&master), now.as_mut_ptr()) };
    assert_eq!(rc, 0);
    // SAFETY: tcgetattr succeeded.
    let now = unsafe { now.assume_init() };
    assert_ne!(now.c_lflag & libc::ECHO, 0, "echo was left off");
    let out = meshdeck()
        .args(["--data-dir", dir.0.to_str().unwrap(), "user", "list"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "alice\tadmin\n");
}
