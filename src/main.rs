//! Start-up only: parse the settings, initialise logging, run the server or the simulator.

use clap::Parser;
use meshdeck::config::{Cli, Command};

fn main() -> anyhow::Result<()> {
    start_with_tunables();
    tune_malloc();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        // The blocking pool runs password checks (two at a time) and name lookups, which can
        // hang for half a minute on a dead DNS server; SQLite has threads of its own. 64
        // threads, where tokio's default allows 512.
        .max_blocking_threads(64)
        .build()?;
    let done = runtime.block_on(run());
    // Every task is dropped with the runtime, and with them the last handles to the store:
    // its threads answer what is queued and close the database (the WAL checkpointed).
    drop(runtime);
    if !meshdeck::store::wait_closed(std::time::Duration::from_secs(5)) {
        eprintln!("meshdeck: the database took over 5 s to close");
    }
    done
}

/// glibc gives every thread that allocates its own arena (up to eight per core), and each
/// keeps the high-water mark of what was freed in it: with the runtime's workers and the
/// blocking-pool threads SQLite then ran on, that was 100 KB a session at 10 sessions
/// (BENCHMARKS.md). Two arenas serve two cores: one would save another 44 KB a session but
/// costs a third of the node list's rate under load, the two workers waiting on its lock.
/// Set before any thread starts; `MALLOC_ARENA_MAX` still wins.
///
/// The threshold above which blocks are mapped from the kernel stays glibc's own (it rises
/// to the largest block freed): fixed at 64 KiB it kept rendered pages out of the heap, 50 KB
/// a session at 10 sessions, but every gzip encoder's tables were then mapped, faulted in and
/// unmapped per response, and the page-table flushes that cost halved `/api/status`'s rate.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn tune_malloc() {
    const M_ARENA_MAX: std::os::raw::c_int = -8;
    extern "C" {
        fn mallopt(param: std::os::raw::c_int, value: std::os::raw::c_int) -> std::os::raw::c_int;
    }
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only sets an allocator parameter; no thread but this one exists yet.
        unsafe {
            mallopt(M_ARENA_MAX, 2);
        }
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn tune_malloc() {}

/// glibc's per-thread cache: up to this many freed blocks of each size to 1 KiB, kept by the
/// thread that freed them for its next allocations (7 by default).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const TCACHE: &str = "glibc.malloc.tcache_count=1";
/// Set in the environment of the process started again (see [`start_with_tunables`]).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const STARTED_AGAIN: &str = "MESHDECK_MALLOC_TUNED";

/// glibc keeps, per thread, a cache of the blocks that thread freed, for its next
/// allocations without a lock. With two runtime workers and SQLite's three threads each
/// holding up to seven blocks of every size, that was 25–30 KB a session at 10 sessions; one
/// block of each size costs the node list 3 % of its rate under load, none at all 11 %
/// (BENCHMARKS.md).
/// The cache's size is one of glibc's tunables, read from `GLIBC_TUNABLES` only as a process
/// starts, before `main`: so the process starts itself once more (the same pid, arguments and
/// environment) with it set, unless `GLIBC_TUNABLES` already says something of it (so
/// `glibc.malloc.tcache_count=7` there keeps glibc's default). At most once: the second start
/// finds [`STARTED_AGAIN`] set, whatever glibc made of the variable. Not for a privileged
/// process (setuid or file capabilities), whose tunables glibc filters.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn start_with_tunables() {
    use std::os::unix::process::CommandExt;
    const AT_SECURE: std::os::raw::c_ulong = 23;
    extern "C" {
        fn getauxval(kind: std::os::raw::c_ulong) -> std::os::raw::c_ulong;
    }
    // SAFETY: getauxval only reads the auxiliary vector the kernel gave the process.
    if unsafe { getauxval(AT_SECURE) } != 0 || std::env::var_os(STARTED_AGAIN).is_some() {
        return;
    }
    let tunables = match std::env::var("GLIBC_TUNABLES") {
        Ok(t) if t.contains("glibc.malloc.tcache_count") => return,
        Ok(t) if !t.is_empty() => format!("{t}:{TCACHE}"),
        Ok(_) | Err(std::env::VarError::NotPresent) => TCACHE.to_string(),
        // Not text: leave it as it is.
        Err(std::env::VarError::NotUnicode(_)) => return,
    };
    let mut args = std::env::args_os();
    let mut again = std::process::Command::new("/proc/self/exe");
    if let Some(name) = args.next() {
        again.arg0(name);
    }
    // Returns only when the process could not start again.
    let e = again
        .args(args)
        .env("GLIBC_TUNABLES", tunables)
        .env(STARTED_AGAIN, "1")
        .exec();
    eprintln!("meshdeck: running with malloc's own thread caches ({e})");
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn start_with_tunables() {}

/// A thread that hands malloc's free pages back to the kernel every `period`. glibc gives
/// back only what is free at the top of a heap; blocks freed below what is still held (a
/// closed connection's 8 KB buffers, what a burst of page loads left behind) stay resident.
/// `malloc_trim` releases the whole pages inside free blocks as well. Under steady load most
/// of them are used again within seconds (16 KB a session at 10 sessions); once the load
/// drops, half a megabyte comes back within 25 s instead of never (BENCHMARKS.md). It takes
/// 50–200 µs, holding each arena's lock in turn, on a thread of its own so that no runtime
/// worker waits for it.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn trim_malloc_every(period: std::time::Duration) {
    extern "C" {
        fn malloc_trim(pad: usize) -> std::os::raw::c_int;
    }
    let started = std::thread::Builder::new()
        .name("malloc-trim".into())
        .stack_size(64 << 10)
        .spawn(move || loop {
            std::thread::sleep(period);
            // SAFETY: malloc_trim only returns free memory to the kernel; it takes the
            // allocator's own locks.
            unsafe {
                malloc_trim(0);
            }
        });
    if let Err(e) = started {
        tracing::warn!("no malloc-trim thread: {e}");
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn trim_malloc_every(_period: std::time::Duration) {}

async fn run() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Sim(args)) => meshdeck::sim::run(args).await,
        Some(Command::User(cmd)) => meshdeck::users_cli(&cli.server, cmd).await,
        None => {
            let mut config = cli.server;
            let secret = meshdeck::install::secret_key(
                std::env::var("SECRET_KEY").ok(),
                config.secret_key_file.as_deref(),
            )?;
            let key = meshdeck::cookie_key(secret.as_deref())?;
            config.persist_sessions = secret.is_some();
            // Listening for the stop before the address is announced: a SIGTERM right after
            // the announcement is a clean stop too.
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
            let app = meshdeck::App::start(config, key).await?;
            trim_malloc_every(std::time::Duration::from_secs(10));
            println!("meshdeck on http://{}", app.addr);
            tokio::select! {
                r = tokio::signal::ctrl_c() => r?,
                _ = term.recv() => {}
            }
            tracing::info!("shutting down");
            app.stop().await;
            Ok(())
        }
    }
}
