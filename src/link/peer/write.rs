//! A live link's loop: what queued while it was down goes first, then every
//! command, coalesced with those waiting behind it into batches laid out in
//! blocks (`frame::lay_out_blocks`) and written in pieces of about
//! `MAX_WRITE` bytes that end on block boundaries, with keep-alive pings
//! between them; the rest of a frame a direct write began is finished first.
//! Apart: the path every frame the task writes takes.

use std::sync::atomic::Ordering;

use crate::link::connection::{LinkReader, LinkWriter};
use crate::wire::{envelope, frame};
use crate::link::sink::{DownReason, LinkEvent};
use crate::link::spare;
use crate::link::health::now_us;

use super::detect::next_tick;
use super::task::{link_went_away, Next, Peer};
use super::{Command, Life};

/// Frames are coalesced into writes of about this many bytes at most, whole
/// blocks: less than a Node socket reads at once, so a JS (node-ipc)
/// receiver that keeps up reads each write whole and parses it at once, and
/// within one segment of loopback TCP (its MSS is a little under 64 KiB), so
/// such a reader never finds half a write (a read ending inside a block would
/// put all its later reads off the blocks); large enough to amortize the
/// system calls.
pub(super) const MAX_WRITE: usize = 15 * frame::BLOCK;

/// Frames to write: their text and where each ends. Always whole frames:
/// the rest of a frame a direct write began is written before a batch.
#[derive(Default)]
pub(super) struct WriteBatch {
    pub(super) buf: String,
    pub(super) ends: Vec<usize>,
}

/// The two buffers a write is built in: the frames as encoded, and as laid
/// out in blocks.
#[derive(Default)]
struct WriteBuffers {
    batch: WriteBatch,
    laid: WriteBatch,
}

/// How many pairs of write buffers a thread keeps (see [`Scratch`]).
const SCRATCH_KEEP: usize = 2;

/// The most a buffer a thread keeps holds: one that grew larger (a flood's
/// batch, a large frame) gives the rest back. Kept whole, every thread of
/// the runtime would come to keep a flood's pairs (megabytes each), where
/// a link's own pair had kept one.
const SCRATCH_CAPACITY: usize = 4 * MAX_WRITE;

thread_local! {
    static SCRATCH: std::cell::RefCell<Vec<WriteBuffers>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Write buffers lent by the thread a peer task runs on, for one batch,
/// and given back (to the thread it then runs on) when dropped.
///
/// Why not a pair per link: a write's bytes pass through both buffers
/// (encoded and signed into one, laid out in blocks into the other), and a
/// buffer of a link's own is touched again only at that link's next write.
/// In a mesh of 32 nodes on two cores a link writes about ten times a
/// second, so its buffers had left the cache by then, and every write
/// missed in them; the tasks of one thread write one after another, and
/// a pair of that thread's is still in the cache.
struct Scratch(Option<WriteBuffers>);

impl Scratch {
    fn lend() -> Scratch {
        Scratch(Some(spare::take_kept(&SCRATCH).unwrap_or_default()))
    }

    fn bufs(&mut self) -> &mut WriteBuffers {
        self.0.get_or_insert_with(WriteBuffers::default)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let Some(mut bufs) = self.0.take() else { return };
        // A task dropped off the runtime (by its shutdown, on the thread
        // that stops it) frees its pair: that thread writes nothing.
        if tokio::runtime::Handle::try_current().is_err() {
            return;
        }
        for b in [&mut bufs.batch, &mut bufs.laid] {
            b.clear();
            b.buf.shrink_to(SCRATCH_CAPACITY);
            // Room for as many ends as frames of 64 bytes.
            b.ends.shrink_to(SCRATCH_CAPACITY / 64);
        }
        spare::keep(&SCRATCH, bufs, SCRATCH_KEEP);
    }
}

impl WriteBatch {
    fn clear(&mut self) {
        self.buf.clear();
        self.ends.clear();
    }

    /// Takes the frames of `from` as they will be written: laid out in
    /// blocks when `blocks`, the stream having `at` bytes of its current
    /// block written before them; else as they are (`from` is left empty).
    fn lay_out(&mut self, from: &mut WriteBatch, at: usize, blocks: bool) {
        self.clear();
        if blocks {
            frame::lay_out_blocks(&from.buf, &from.ends, at, &mut self.buf, &mut self.ends);
        } else {
            std::mem::swap(self, from);
        }
    }

    /// Marks the end of a frame just appended.
    fn end_frame(&mut self) {
        if self.ends.last().copied().unwrap_or(0) != self.buf.len() {
            self.ends.push(self.buf.len());
        }
    }
}

/// The most a piece written to a plain TCP link holds: `MAX_WRITE`, or
/// fewer whole blocks where the link's segments are smaller (a young
/// loopback link), so that a piece reaches the peer in one segment.
///
/// Where a segment cannot hold even one block (an Ethernet-sized MSS of
/// about 1448 bytes), no piece can arrive whole, and pieces of one block
/// would only cost a system call and a record per 4 KiB (on a loopback of
/// that MTU, casts between two native nodes ran at 235-240k/s that way
/// against 386-520k/s in pieces of `MAX_WRITE`): write `MAX_WRITE` then.
///
/// This is the rule, for a link whose segments are `segment` bytes (None:
/// unknown); [`PieceLimit`] applies it to a link.
pub(super) fn piece_limit_for(segment: Option<usize>) -> usize {
    match segment {
        Some(s) if s >= frame::BLOCK => (s / frame::BLOCK * frame::BLOCK).min(MAX_WRITE),
        _ => MAX_WRITE,
    }
}

/// A link's [`piece_limit_for`], its segment size asked of its socket
/// only until the limit reaches `MAX_WRITE`. The limit only grows on a link
/// (its segments are bounded by half the largest window the peer ever
/// offered), and asking costs a system call per write: in a mesh of 32
/// nodes on two cores, 0.45% of the CPU. One per writer of a link (the
/// task, and the callers through the lane), made anew with each link.
#[derive(Debug, Default)]
pub(super) struct PieceLimit {
    settled: bool,
}

impl PieceLimit {
    /// The limit for the next piece written to `tcp`.
    pub(super) fn get(&mut self, tcp: Option<&tokio::net::TcpStream>) -> usize {
        self.get_with(|| tcp.and_then(crate::link::connection::segment_size))
    }

    /// [`PieceLimit::get`], the socket's segment size asked of `segment`.
    fn get_with(&mut self, segment: impl FnOnce() -> Option<usize>) -> usize {
        if self.settled {
            return MAX_WRITE;
        }
        let limit = piece_limit_for(segment());
        self.settled = limit == MAX_WRITE;
        limit
    }
}

/// The next piece to write of frames ending at `ends`, from frame `i` (which
/// begins at `start`), the frames laid out from `at` bytes into a block: the
/// index of the frame after it and where it ends. At most about `limit`
/// bytes (at least one frame), ending on the last block boundary within
/// reach (on a frame boundary where a frame is longer than that).
pub(super) fn next_piece(ends: &[usize], mut i: usize, start: usize, at: usize, limit: usize) -> (usize, usize) {
    let mut end = ends[i];
    i += 1;
    let mut block_end = None;
    while i < ends.len() && ends[i] - start <= limit {
        if (end + at).is_multiple_of(frame::BLOCK) {
            block_end = Some((i, end));
        }
        end = ends[i];
        i += 1;
    }
    match block_end {
        Some(cut) if !(end + at).is_multiple_of(frame::BLOCK) => cut,
        _ => (i, end),
    }
}

/// The start of the frame that holds byte `at` (`ends` ascending).
pub(super) fn frame_start(ends: &[usize], at: usize) -> (usize, usize) {
    let i = ends.partition_point(|&end| end <= at);
    (i, if i == 0 { 0 } else { ends[i - 1] })
}

impl Peer {
    /// True when the stash begins with the rest of a frame the socket holds
    /// the beginning of: that goes out before anything else.
    fn rest_first(&self) -> bool {
        matches!(self.stash.front(), Some(Command::Encoded { buf, ends, written, link })
            if *link == self.links && *written < buf.len() && frame_start(ends, *written).1 < *written)
    }

    /// Writes a keep-alive ping now (at a frame boundary), stamped for its
    /// round trip. Kept like any frame, so what the socket holds maps onto
    /// what was written; it is left out when frames are written again.
    async fn write_ping(&mut self, wr: &mut LinkWriter) -> std::io::Result<()> {
        self.detect.ping_due = false;
        let cfg = self.shared.config();
        let mut line = WriteBatch::default();
        let mut text = String::with_capacity(cfg.from_json.len() + 96);
        envelope::write_keep_alive_line(&mut text, &cfg.from_json, now_us());
        self.encode(Command::Bodies { text, cfg }, &mut line);
        let mut ping = WriteBatch::default();
        let blocks = self.state.in_blocks(line.buf.len());
        ping.lay_out(&mut line, 0, blocks);
        self.write_out(wr, ping.buf.as_bytes()).await?;
        self.partial = 0;
        self.detect.ping_out = true;
        self.state.pings.fetch_add(1, Ordering::Relaxed);
        self.state.sent_frames.fetch_add(1, Ordering::Relaxed);
        self.state.sent_bytes.fetch_add(ping.buf.len() as u64, Ordering::Relaxed);
        self.state.lane().wrote(ping.buf, ping.ends);
        Ok(())
    }

    /// Appends the frames of a command to `batch`. `Encoded` frames are
    /// handled by the caller, which knows the link.
    pub(super) fn encode(&self, cmd: Command, batch: &mut WriteBatch) {
        match cmd {
            Command::Bodies { text, cfg } => {
                let dropped = envelope::encode_bodies(&mut batch.buf, cfg.cookie.as_ref(), &text, &mut batch.ends);
                if dropped > 0 {
                    tracing::warn!(peer = self.id, "dropped {dropped} malformed envelope(s)");
                }
                self.state.give_back(text);
            }
            Command::Buffer { head, bytes, cfg } => {
                if envelope::encode_buffer_message(&mut batch.buf, cfg.cookie.as_ref(), &head, &bytes) {
                    batch.end_frame();
                } else {
                    tracing::warn!(peer = self.id, "dropped a Buffer message with a malformed envelope");
                }
            }
            Command::Raw { kind, json } => {
                let mut bytes = Vec::with_capacity(json.len() + 32);
                crate::wire::frame::encode_frame(&mut bytes, &kind, &json);
                // Built from two strings and ASCII punctuation: valid UTF-8.
                batch.buf.push_str(&String::from_utf8_lossy(&bytes));
                batch.end_frame();
            }
            Command::Encoded { .. } | Command::MaxLen(_) | Command::Stop { .. } | Command::Flush(_) | Command::Outbox { .. } => {}
        }
    }

    /// The frames of `buf` (ending at `ends`) from the one holding byte `at`
    /// on, each whole: what is not known to be on the wire once `at` bytes
    /// were written.
    pub(super) fn frames_from(buf: &str, ends: &[usize], at: usize) -> Vec<String> {
        let (first, mut start) = frame_start(ends, at);
        let mut out = Vec::with_capacity(ends.len() - first);
        for &end in &ends[first..] {
            out.push(buf[start..end].to_string());
            start = end;
        }
        out
    }

    pub(super) async fn serve(&mut self, rd: &mut LinkReader, wr: &mut LinkWriter) -> Next {
        self.state.connected.store(true, Ordering::Release);
        self.overflowing = false;
        self.emit(LinkEvent::PeerConnect { peer: self.id });
        self.await_life(self.detect.up_at);

        // Flush what waited for the link, oldest first.
        if !self.queue.is_empty() {
            let mut batch = WriteBatch::default();
            let mut laid = WriteBatch::default();
            for f in self.queue.drain(..) {
                batch.buf.push_str(&f);
                batch.ends.push(batch.buf.len());
            }
            self.queue_bytes = 0;
            self.set_queued();
            let blocks = self.state.in_blocks(batch.buf.len());
            laid.lay_out(&mut batch, 0, blocks);
            if !self.write(wr, &laid, 0).await {
                return Next::Reconnect;
            }
            self.emit(LinkEvent::PeerDrained { peer: self.id });
        }
        if self.stopping {
            self.down_reason = DownReason::Stopped;
            wr.shutdown().await;
            self.emit(LinkEvent::PeerDisconnect { peer: self.id });
            return Next::Exit;
        }

        let mut scratch = vec![0u8; 4096];
        loop {
            // A keep-alive ping goes out at the next frame boundary, ahead
            // of any backlog, unless the socket holds the beginning of a
            // frame whose rest waits in the stash.
            if self.detect.ping_due && !self.rest_first() && self.write_ping(wr).await.is_err() {
                return Next::Reconnect;
            }
            let held = self.next_held();
            let first = match held.or_else(|| self.idle(wr)) {
                Some(cmd) => cmd,
                None => tokio::select! {
                    cmd = self.rx.recv() => match cmd {
                        Some(cmd) => cmd,
                        None => return Next::Exit,
                    },
                    n = rd.read(&mut scratch) => match n {
                        // The remote end closed the link.
                        Ok(0) => return Next::Reconnect,
                        Err(e) => {
                            // Under TLS 1.3 a server that rejects our certificate
                            // says so only after the handshake: tell JS why. A
                            // peer that went away (it exited: no close_notify)
                            // is an ordinary disconnect.
                            if self.opts.tls.is_some() && !link_went_away(&e) {
                                let msg = format!("TLS link to {}:{} failed: {e}", self.opts.host, self.opts.port);
                                self.report(&msg);
                            }
                            return Next::Reconnect;
                        }
                        // Nothing is expected on an outbound link; ignore it.
                        Ok(_) => continue,
                    },
                    _ = next_tick(&mut self.detect.ticker) => {
                        self.tick();
                        continue;
                    }
                    // A sign of life from a node not shown up yet.
                    _ = self.detect.heard.wake.notified(), if self.detect.life != Life::Up => {
                        self.check_proof();
                        continue;
                    }
                },
            };
            let mut lent = Scratch::lend();
            // The batch as encoded, and in blocks, as written.
            let WriteBuffers { batch, laid } = lent.bufs();
            batch.clear();
            // Where in its block the stream is when the batch begins: 0,
            // unless it begins with the rest of a direct write.
            let mut at = 0;
            let mut stop = None;
            let mut flushed = Vec::new();
            let mut next = Some(first);
            // Coalesce everything already waiting into one write.
            while let Some(cmd) = next.take() {
                match cmd {
                    Command::Stop { force } => {
                        stop = Some(force);
                        self.down_reason = DownReason::Stopped;
                        break;
                    }
                    Command::MaxLen(n) => self.opts.max_len = n,
                    Command::Flush(done) => flushed.push(done),
                    Command::Encoded { buf, ends, written, link } => {
                        let (first, start) = frame_start(&ends, written);
                        if link == self.links && start < written {
                            // The rest of a frame this link already carries
                            // the beginning of. The direct write that began
                            // it found the task idle, so this is its first
                            // command and nothing can come in between. The
                            // socket may have cut the frame inside a
                            // character: its rest is written now, as bytes.
                            debug_assert!(batch.buf.is_empty());
                            let rest_end = ends[first];
                            self.inflight = buf.len() - written;
                            if let Err(e) = self.write_out(wr, &buf.as_bytes()[written..rest_end]).await {
                                tracing::debug!(peer = self.id, "write failed, requeueing: {e}");
                                self.requeue(Self::frames_from(&buf, &ends, written));
                                return Next::Reconnect;
                            }
                            self.partial = 0;
                            let mut lane = self.state.lane();
                            lane.partial = 0;
                            lane.wrote_copy(&buf, &ends, start, rest_end);
                            drop(lane);
                            batch.buf.push_str(&buf[rest_end..]);
                            batch.ends.extend(ends[first + 1..].iter().map(|e| e - rest_end));
                            at = rest_end;
                        } else {
                            // Whole frames from the first one not on the wire
                            // (on another link: resent whole).
                            if link == self.links && batch.buf.is_empty() {
                                at = start;
                            }
                            let base = batch.buf.len();
                            batch.buf.push_str(&buf[start..]);
                            batch.ends.extend(ends[first..].iter().map(|e| e - start + base));
                        }
                        // Its buffers serve the next command stashed.
                        self.spare_held.give(buf, ends);
                    }
                    other => self.encode(other, batch),
                }
                if batch.buf.len() >= MAX_WRITE {
                    break;
                }
                // The stash is older than anything in the channel.
                next = self.next_held().or_else(|| self.rx.try_recv().ok());
            }
            // What was handed over before a stop is written even when the
            // stop is forced: node-ipc writes each frame as it is sent, so
            // `cast(); disconnect(node, true)` delivers.
            laid.clear();
            if !batch.buf.is_empty() {
                let blocks = self.state.in_blocks(batch.buf.len());
                laid.lay_out(batch, at, blocks);
            }
            if !laid.buf.is_empty() && !self.write(wr, laid, at).await {
                if stop == Some(true) {
                    self.emit(LinkEvent::PeerDisconnect { peer: self.id });
                    return Next::Exit;
                }
                // A graceful stop still delivers what was sent before it:
                // the frames went back to the queue; the next link flushes
                // them and then closes.
                if stop == Some(false) {
                    self.stopping = true;
                }
                return Next::Reconnect;
            }
            for done in flushed {
                let _ = done.send(());
            }
            if let Some(force) = stop {
                if !force {
                    wr.shutdown().await;
                }
                self.emit(LinkEvent::PeerDisconnect { peer: self.id });
                return Next::Exit;
            }
        }
    }

    /// Writes a batch laid out in blocks from `at` bytes into a block, in
    /// writes of at most about `MAX_WRITE` bytes that end on block boundaries
    /// (on frame boundaries where a frame is longer). On failure every frame
    /// not known to be whole on the wire goes back to the front of the queue.
    async fn write(&mut self, wr: &mut LinkWriter, batch: &WriteBatch, at: usize) -> bool {
        let mut start = 0;
        let mut i = 0;
        let limit = self.pieces.get(wr.shared_tcp().map(|t| &**t));
        self.inflight = batch.buf.len();
        self.account();
        while i < batch.ends.len() {
            if self.detect.ping_due {
                if let Err(e) = self.write_ping(wr).await {
                    tracing::debug!(peer = self.id, "write failed, requeueing: {e}");
                    self.inflight = 0;
                    self.requeue(Self::frames_from(&batch.buf, &batch.ends, start));
                    return false;
                }
            }
            let first = i;
            let end;
            (i, end) = next_piece(&batch.ends, i, start, at, limit);
            if let Err(e) = self.write_out(wr, &batch.buf.as_bytes()[start..end]).await {
                tracing::debug!(peer = self.id, "write failed, requeueing: {e}");
                self.inflight = 0;
                self.requeue(Self::frames_from(&batch.buf, &batch.ends, start));
                return false;
            }
            self.partial = 0;
            self.state.lane().wrote_copy(&batch.buf, &batch.ends, start, end);
            self.state.sent_frames.fetch_add((i - first) as u64, Ordering::Relaxed);
            self.state.sent_bytes.fetch_add((end - start) as u64, Ordering::Relaxed);
            start = end;
            self.inflight = batch.buf.len() - start;
            self.account();
        }
        true
    }

    /// Writes all of `bytes`, taking commands into the stash whenever the
    /// socket makes the write wait, so a peer that does not read holds
    /// back at most `max_bytes`, not everything JS sends it.
    /// What the socket took counts in `partial` until the caller records
    /// the frames whole. A tick that is due comes first: toward a node that
    /// reads as fast as we write, the socket is always ready, and a tick
    /// polled after it would wait for the backlog to end.
    async fn write_out(&mut self, wr: &mut LinkWriter, mut bytes: &[u8]) -> std::io::Result<()> {
        while !bytes.is_empty() {
            tokio::select! {
                biased;
                _ = next_tick(&mut self.detect.ticker) => self.tick(),
                n = wr.write_some(bytes) => {
                    let n = n?;
                    self.partial += n;
                    bytes = &bytes[n..];
                }
                cmd = self.rx.recv(), if self.rx_open => match cmd {
                    Some(cmd) => self.hold(cmd),
                    None => self.rx_open = false,
                },
            }
        }
        loop {
            tokio::select! {
                biased;
                _ = next_tick(&mut self.detect.ticker) => self.tick(),
                done = wr.flush() => return done,
                cmd = self.rx.recv(), if self.rx_open => match cmd {
                    Some(cmd) => self.hold(cmd),
                    None => self.rx_open = false,
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{frame_start, piece_limit_for, PieceLimit, Scratch, MAX_WRITE, SCRATCH, SCRATCH_CAPACITY, SCRATCH_KEEP};
    use crate::wire::frame::BLOCK;

    fn kept() -> Vec<(usize, usize)> {
        SCRATCH.with(|s| s.borrow().iter().map(|b| (b.batch.buf.capacity(), b.laid.buf.capacity())).collect())
    }

    #[test]
    fn a_thread_lends_the_same_write_buffers_emptied_and_keeps_few() {
        // Run on a thread of its own: the test harness may reuse threads.
        std::thread::spawn(|| {
            // Off any runtime (a task dropped by a shutdown) a pair is freed.
            drop(Scratch::lend());
            assert!(kept().is_empty());
            let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
            let _on = rt.enter();
            {
                let mut lent = Scratch::lend();
                let bufs = lent.bufs();
                bufs.batch.buf.push_str("frame\x0c");
                bufs.batch.ends.push(6);
                bufs.laid.buf.push_str(&" ".repeat(BLOCK));
            }
            assert_eq!(kept().len(), 1, "given back when dropped");
            let (batch_cap, laid_cap) = kept()[0];
            {
                // The next batch gets that very pair, emptied.
                let mut lent = Scratch::lend();
                let bufs = lent.bufs();
                assert!(bufs.batch.buf.is_empty() && bufs.batch.ends.is_empty() && bufs.laid.buf.is_empty());
                assert_eq!((bufs.batch.buf.capacity(), bufs.laid.buf.capacity()), (batch_cap, laid_cap));
                assert!(kept().is_empty(), "lent, not copied");
            }
            // Tasks whose writes wait hold a pair each; when they end, the
            // thread keeps only a few.
            let many: Vec<Scratch> = (0..SCRATCH_KEEP + 3).map(|_| Scratch::lend()).collect();
            drop(many);
            assert_eq!(kept().len(), SCRATCH_KEEP);
            // A pair that grew with a flood is kept at the usual size.
            SCRATCH.with(|s| s.borrow_mut().clear());
            {
                let mut lent = Scratch::lend();
                lent.bufs().laid.buf.reserve(4 * SCRATCH_CAPACITY);
            }
            assert_eq!(kept().len(), 1);
            assert!(kept()[0].1 <= SCRATCH_CAPACITY, "{:?}", kept());
        })
        .join()
        .unwrap();
    }

    #[test]
    fn pieces_fit_a_segment_only_where_a_block_does() {
        // Loopback: a segment a little under 64 KiB holds all 15 blocks.
        assert_eq!(piece_limit_for(Some(65483)), MAX_WRITE);
        // A young loopback link: the whole blocks its segments hold.
        assert_eq!(piece_limit_for(Some(3 * BLOCK + 100)), 3 * BLOCK);
        assert_eq!(piece_limit_for(Some(BLOCK)), BLOCK);
        // Ethernet-sized segments hold no whole block: no piece can arrive
        // whole, so pieces are not made small for nothing.
        assert_eq!(piece_limit_for(Some(1448)), MAX_WRITE);
        assert_eq!(piece_limit_for(Some(536)), MAX_WRITE);
        assert_eq!(piece_limit_for(None), MAX_WRITE);
    }

    #[test]
    fn a_link_asks_its_segment_size_until_pieces_are_whole_writes() {
        let mut limit = PieceLimit::default();
        let mut asked = Vec::new();
        // A young loopback link: asked on every write while its segments
        // grow, until a segment holds a whole write.
        for segment in [BLOCK + 10, 4 * BLOCK, 65483] {
            let got = limit.get_with(|| {
                asked.push(segment);
                Some(segment)
            });
            assert_eq!(got, piece_limit_for(Some(segment)));
        }
        // Then never again.
        for _ in 0..3 {
            let got = limit.get_with(|| {
                asked.push(BLOCK);
                Some(BLOCK)
            });
            assert_eq!(got, MAX_WRITE);
        }
        assert_eq!(asked, [BLOCK + 10, 4 * BLOCK, 65483]);
        // Where the socket cannot say, or its segments hold no block:
        // settled at the first write.
        for first in [None, Some(1448)] {
            let mut settled = PieceLimit::default();
            assert_eq!(settled.get_with(|| first), MAX_WRITE);
            assert_eq!(settled.get_with(|| panic!("asked again")), MAX_WRITE);
        }
    }

    #[test]
    fn frame_start_finds_the_frame_holding_a_byte() {
        let ends = [10, 25, 40];
        assert_eq!(frame_start(&ends, 0), (0, 0));
        assert_eq!(frame_start(&ends, 9), (0, 0));
        assert_eq!(frame_start(&ends, 10), (1, 10));
        assert_eq!(frame_start(&ends, 30), (2, 25));
        assert_eq!(frame_start(&ends, 40), (3, 40));
        assert_eq!(frame_start(&[], 0), (0, 0));
    }
}
