//! Polling an inbound socket for a short while after a small read, before
//! going back to waiting on the runtime, while this process is in a
//! conversation.
//!
//! Why: in a conversation (a ping and its pong, a call and its reply, one at
//! a time) the next message comes tens of microseconds after the last. A
//! reader that waits on the runtime has its thread put to sleep at once, the
//! CPU under it goes idle, and the message that comes then must wake both.
//! On a virtual machine that costs 25-40 us per hand-over: with every process
//! on one CPU, where no CPU waits to be woken, a native ping took 28 us
//! against 108 us on two (BENCHMARKS.md). Polling the socket for a short
//! window keeps the thread and its CPU awake for the message that follows,
//! as Erlang's schedulers spin before they sleep (`+sbwt`).
//!
//! Bounds on what it costs:
//! - only while the process is in a conversation: within the last
//!   [`CONVERSATION`] it sent a lone request (a ping or a call while no other
//!   reply was awaited, as the JS side tells) or answered a ping. With many
//!   calls in flight, or casts, nothing polls: a peer on the same machine
//!   that needs the CPU to answer them is not kept from it;
//! - only after a read of less than [`SMALL_READ`];
//! - one reader of the process at a time: polling holds its runtime thread,
//!   and the other thread goes on with every other task;
//! - only where nothing waits on the held thread: where the consumer of
//!   what is read is not a task of the runtime (the addon's JS thread:
//!   [`Sink::consumer_off_runtime`]); or, on a runtime with other worker
//!   threads to go on with every other task (a Rust service's
//!   multi-thread runtime), after a read that handed the consumer nothing,
//!   every frame of it answered by the reader itself (a ping). A read that
//!   delivers a message wakes the consumer's task on this very thread,
//!   where a window would keep it waiting; a runtime of one thread would
//!   stop altogether ([`may_poll`]);
//! - plain TCP only (a TLS link's bytes must go through its session);
//! - the window, [`window`]: 100 us unless `CLUSTERLUCK_NATIVE_POLL_US` says
//!   otherwise (0 turns polling off).
//!
//! Between two tries the thread yields the CPU, so a thread waiting for it
//! (the JS thread, woken by what was just read) runs first.
//!
//! [`Sink::consumer_off_runtime`]: crate::link::sink::Sink::consumer_off_runtime

use std::io;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::link::health::now_us;

/// The window when `CLUSTERLUCK_NATIVE_POLL_US` does not set one.
const DEFAULT_WINDOW_US: u64 = 100;

/// Reads of fewer bytes than this may be followed by a window of polling.
pub(crate) const SMALL_READ: u64 = 16 * 1024;

/// How recent the last turn must be for the process to be in a
/// conversation.
pub(crate) const CONVERSATION: Duration = Duration::from_millis(1);

/// Taken by the reader that polls; the others wait on the runtime meanwhile.
static POLLING: AtomicBool = AtomicBool::new(false);

/// When this process last sent a lone request or answered a ping
/// ([`now_us`]; 0: never).
static LAST_TURN_US: AtomicU64 = AtomicU64::new(0);

/// Notes a lone request sent or a ping answered: the process is in a
/// conversation, and the next message is likely soon.
pub(crate) fn note_conversation() {
    LAST_TURN_US.store(now_us().max(1), Ordering::Relaxed);
}

fn in_conversation() -> bool {
    recent(LAST_TURN_US.load(Ordering::Relaxed), now_us())
}

/// Whether a turn of a conversation at `last` (0: none) is within
/// [`CONVERSATION`] of `now`.
fn recent(last: u64, now: u64) -> bool {
    last != 0 && now.saturating_sub(last) < CONVERSATION.as_micros() as u64
}

/// How long a reader polls after a small read, for the whole process.
pub(crate) fn window() -> Duration {
    static WINDOW: OnceLock<Duration> = OnceLock::new();
    *WINDOW.get_or_init(|| {
        let us = std::env::var("CLUSTERLUCK_NATIVE_POLL_US")
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(DEFAULT_WINDOW_US);
        Duration::from_micros(us)
    })
}

/// Whether the readers of a sink may hold their runtime thread for windows
/// of polling at all: where what they read goes to a thread of its own
/// (`consumer_off_runtime`), or where `runtime`, which runs them, has
/// other worker threads.
pub(crate) fn may_poll(consumer_off_runtime: bool, runtime: &tokio::runtime::Handle) -> bool {
    consumer_off_runtime
        || (runtime.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread && runtime.metrics().num_workers() > 1)
}

/// Whether a reader polls before its next read, after a read of `bytes`
/// that did (`delivered`) or did not hand its consumer anything.
pub(crate) fn after_read(bytes: u64, delivered: bool, consumer_off_runtime: bool) -> bool {
    bytes < SMALL_READ && (consumer_off_runtime || !delivered)
}

/// What a window of polling found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Polled {
    /// Bytes were appended to the buffer.
    Read,
    /// The peer closed its side, or the socket failed.
    Ended,
    /// Nothing came within the window, or no window was opened: wait on the
    /// runtime.
    Quiet,
}

/// A plain TCP socket's descriptor, polled by the reader that owns it.
#[derive(Debug)]
pub(crate) struct Poller {
    fd: RawFd,
    window: Duration,
    /// Who may poll now: the process's flag (tests bring their own).
    turn: &'static AtomicBool,
}

/// Gives the polling turn back when the window ends, however it ends.
struct Turn(&'static AtomicBool);

impl Drop for Turn {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

impl Poller {
    /// `fd` must stay open for as long as the poller is used: the reader
    /// that polls holds the socket's read half. None when polling is off.
    pub(crate) fn new(fd: RawFd, window: Duration) -> Option<Poller> {
        Self::taking_turns(fd, window, &POLLING)
    }

    fn taking_turns(fd: RawFd, window: Duration, turn: &'static AtomicBool) -> Option<Poller> {
        (!window.is_zero()).then_some(Poller { fd, window, turn })
    }

    /// A window of polling, when the process is in a conversation: see
    /// [`Poller::poll`].
    pub(crate) fn read(&self, buf: &mut Vec<u8>) -> Polled {
        if !in_conversation() {
            return Polled::Quiet;
        }
        self.poll(buf)
    }

    /// Tries to read into the spare capacity of `buf` until data comes or
    /// the window has passed. Holds the calling thread meanwhile (see the
    /// module's notes for why that is bounded).
    fn poll(&self, buf: &mut Vec<u8>) -> Polled {
        if self.turn.swap(true, Ordering::Acquire) {
            return Polled::Quiet;
        }
        let _turn = Turn(self.turn);
        let start = Instant::now();
        loop {
            let spare = buf.spare_capacity_mut();
            if spare.is_empty() {
                return Polled::Quiet;
            }
            // SAFETY: `spare` is writable memory of `spare.len()` bytes that
            // `buf` owns; `recv` writes at most that many, and the socket is
            // open (see `new`). MSG_DONTWAIT: the call never blocks.
            let n = unsafe { libc::recv(self.fd, spare.as_mut_ptr().cast(), spare.len(), libc::MSG_DONTWAIT) };
            if n > 0 {
                // SAFETY: `recv` initialised the first `n` bytes of the spare
                // capacity.
                unsafe { buf.set_len(buf.len() + n as usize) };
                return Polled::Read;
            }
            if n == 0 {
                return Polled::Ended;
            }
            match io::Error::last_os_error().kind() {
                io::ErrorKind::WouldBlock => {}
                io::ErrorKind::Interrupted => continue,
                _ => return Polled::Ended,
            }
            if start.elapsed() >= self.window {
                return Polled::Quiet;
            }
            std::thread::yield_now();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::fd::AsRawFd;

    fn pair() -> (std::net::TcpStream, std::net::TcpStream) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        (client, server)
    }

    #[test]
    fn a_window_reads_what_comes_and_says_quiet_when_nothing_does() {
        let (mut client, server) = pair();
        server.set_nonblocking(true).unwrap();
        static TURN: AtomicBool = AtomicBool::new(false);
        let poller = Poller::taking_turns(server.as_raw_fd(), Duration::from_secs(5), &TURN).unwrap();
        let mut buf = Vec::with_capacity(1024);
        // Nothing sent: the window ends with nothing read, and the turn is
        // given back.
        let quiet = Poller::taking_turns(server.as_raw_fd(), Duration::from_micros(300), &TURN).unwrap();
        let t = Instant::now();
        assert_eq!(quiet.poll(&mut buf), Polled::Quiet);
        assert!(t.elapsed() >= Duration::from_micros(300));
        assert!(buf.is_empty());
        assert!(!TURN.load(Ordering::Acquire));
        // Sent from another thread while the window is open: read.
        let writer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            client.write_all(b"hello\x0c").unwrap();
            client
        });
        assert_eq!(poller.poll(&mut buf), Polled::Read);
        assert_eq!(buf, b"hello\x0c");
        // The peer closes: the window says so.
        drop(writer.join().unwrap());
        buf.clear();
        assert_eq!(poller.poll(&mut buf), Polled::Ended);
        assert!(buf.is_empty());
    }

    #[test]
    fn one_reader_polls_at_a_time_and_off_means_off() {
        assert!(Poller::new(0, Duration::ZERO).is_none());
        let (_client, server) = pair();
        server.set_nonblocking(true).unwrap();
        static TURN: AtomicBool = AtomicBool::new(false);
        let poller = Poller::taking_turns(server.as_raw_fd(), Duration::from_secs(5), &TURN).unwrap();
        let mut buf = Vec::with_capacity(64);
        TURN.store(true, Ordering::Release);
        let t = Instant::now();
        // Another reader holds the turn: no wait at all.
        assert_eq!(poller.poll(&mut buf), Polled::Quiet);
        assert!(t.elapsed() < Duration::from_secs(1));
        TURN.store(false, Ordering::Release);
    }

    #[test]
    fn a_runtime_consumer_is_never_kept_waiting_by_a_window() {
        // The addon: its JS thread takes what is read, after any small read.
        assert!(after_read(200, true, true));
        assert!(after_read(200, false, true));
        // A Rust node: only after a read it answered all of itself.
        assert!(after_read(200, false, false));
        assert!(!after_read(200, true, false), "a message waits for its consumer on this thread");
        // Never after a large read.
        assert!(!after_read(SMALL_READ, false, true));
        assert!(!after_read(SMALL_READ, false, false));
    }

    #[test]
    fn only_a_runtime_with_other_workers_lets_its_own_consumers_poll() {
        let one = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let single = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let two = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        assert!(!may_poll(false, one.handle()), "one thread: a window stops everything");
        assert!(!may_poll(false, single.handle()));
        assert!(may_poll(false, two.handle()));
        // With a consumer of its own, on any runtime.
        for rt in [&one, &single, &two] {
            assert!(may_poll(true, rt.handle()));
        }
    }

    #[test]
    fn only_a_recent_turn_of_a_conversation_opens_a_window() {
        let limit = CONVERSATION.as_micros() as u64;
        assert!(!recent(0, 5 * limit), "no turn yet");
        assert!(recent(3 * limit, 3 * limit + limit - 1));
        assert!(!recent(3 * limit, 4 * limit), "too long ago");
        note_conversation();
        assert!(in_conversation(), "just now");
    }
}
