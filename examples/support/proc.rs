//! Readers of `/proc` (Linux): a process's memory, open files, threads and CPU, and the
//! whole machine's CPU. Each gives `None` when the process (or the file) is not there.

use std::time::Duration;

/// A `kB` (or plain number) field of `/proc/PID/status`, such as `VmRSS:` or `Threads:`.
pub fn status_field(pid: u32, key: &str) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

/// Resident memory in KB.
pub fn rss_kb(pid: u32) -> Option<u64> {
    status_field(pid, "VmRSS:")
}

/// Resident memory split as `/proc/PID/status` splits it: anonymous, file-backed (code
/// paged in, mapped files), shared memory.
pub fn rss_parts(pid: u32) -> String {
    let kb = |k| status_field(pid, k).map_or("?".into(), |v| v.to_string());
    format!(
        "anon {} kB, file {} kB, shmem {} kB",
        kb("RssAnon:"),
        kb("RssFile:"),
        kb("RssShmem:")
    )
}

/// Threads, as `/proc/PID/status` counts them.
pub fn threads(pid: u32) -> Option<u64> {
    status_field(pid, "Threads:")
}

/// Threads, as entries of `/proc/PID/task`.
pub fn tasks(pid: u32) -> Option<usize> {
    count_dir(&format!("/proc/{pid}/task"))
}

/// Open file descriptors.
pub fn fds(pid: u32) -> Option<usize> {
    count_dir(&format!("/proc/{pid}/fd"))
}

fn count_dir(path: &str) -> Option<usize> {
    std::fs::read_dir(path).ok().map(|d| d.count())
}

/// CPU seconds (user + system) of a process; clock ticks are 1/100 s on Linux.
pub fn cpu_secs(pid: u32) -> Option<f64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = s.rsplit(')').next()?;
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok());
    Some((ticks(11)? + ticks(12)?) / 100.0)
}

/// Busy and total CPU seconds of the whole machine (all cores), from `/proc/stat`.
pub fn machine_cpu() -> Option<(f64, f64)> {
    let s = std::fs::read_to_string("/proc/stat").ok()?;
    let f: Vec<f64> = s
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    let total: f64 = f.iter().take(8).sum();
    let idle = f.get(3)? + f.get(4)?;
    Some(((total - idle) / 100.0, total / 100.0))
}

/// Busy CPU of the whole machine over `d`, in % of one core.
pub async fn machine_busy(d: Duration) -> f64 {
    let a = machine_cpu();
    tokio::time::sleep(d).await;
    match a.zip(machine_cpu()) {
        Some((a, b)) if b.1 > a.1 => (b.0 - a.0) / d.as_secs_f64() * 100.0,
        _ => f64::NAN,
    }
}

/// The CPU the rest of the machine used while something was measured: the whole machine's
/// busy time minus that of the processes taking part (the server, the radios, the tool).
pub struct Others {
    pids: Vec<u32>,
    start: Option<(f64, f64)>,
    ours: f64,
}

impl Others {
    /// Starts counting; `pids` are the processes taking part (this process is added).
    pub fn start(mut pids: Vec<u32>) -> Others {
        pids.push(std::process::id());
        let ours = pids.iter().filter_map(|&p| cpu_secs(p)).sum();
        Others {
            pids,
            start: machine_cpu(),
            ours,
        }
    }

    /// Other processes' CPU since the start, in % of one core (NaN when unknown).
    pub fn pct(&self) -> f64 {
        let ours: f64 = self.pids.iter().filter_map(|&p| cpu_secs(p)).sum();
        match self.start.zip(machine_cpu()) {
            Some((a, b)) if b.1 > a.1 => {
                let wall = (b.1 - a.1) / cores() as f64;
                ((b.0 - a.0) - (ours - self.ours)).max(0.0) / wall * 100.0
            }
            _ => f64::NAN,
        }
    }
}

/// Cores the machine has (for turning `/proc/stat` totals into wall time).
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
