//! The `meshdeck` binary as a process: run a command with standard input, start the server
//! and learn its address from its one line of standard output, stop it with SIGTERM.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

/// The binary under test.
pub fn meshdeck() -> Command {
    Command::new(env!("CARGO_BIN_EXE_meshdeck"))
}

/// Runs `cmd` with `input` on its standard input, and waits for it.
pub fn run_with_input(cmd: &mut Command, input: &str) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// Starts the server `cmd` runs and waits for its `meshdeck on http://…` line: the child and
/// the base URL. Standard error is the caller's to set.
pub fn listening(cmd: &mut Command) -> (Child, String) {
    let mut child = cmd.stdout(Stdio::piped()).spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line
        .trim()
        .strip_prefix("meshdeck on ")
        .unwrap_or_else(|| panic!("no address line: {line:?}"))
        .to_string();
    (child, base)
}

/// Sends SIGTERM, as a service manager does, and waits (at most 10 s) for the exit.
pub fn terminate(child: &mut Child) -> ExitStatus {
    let term = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "still running 10 s after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
