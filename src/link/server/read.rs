//! An inbound link's reader: reads the socket into the frame decoder,
//! verifies and decodes each frame, waits for its turn while an older link
//! of the same node still delivers (see `handover.rs`), and routes what it
//! decoded: messages to the sink, pings answered on our own link to the
//! sender, an observer's request answered (`observe.rs`), bad frames
//! skipped. Apart from the listener: this is the path every inbound frame
//! takes, and the listener only opens links.

use std::future::Future;
use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use tokio::io::AsyncReadExt;

use crate::link::connection::Reader;
use super::poll::{self, Polled, Poller};
use crate::wire::envelope::{self, Inbound, KnownSenders, Message, Ping};
use crate::link::handover;
use crate::link::observe;
use crate::link::health::{self, now_us, Heard, Hearing};
use crate::wire::error::Skip;
use crate::link::sink::{Delivered, LinkEvent};
use crate::link::spare;
use crate::wire::frame::{Decoded, FrameDecoder};
use crate::wire::json;
use crate::link::shared::{Config, Shared};

/// Room made for each socket read.
const READ_SIZE: usize = 256 * 1024;

/// How many read buffers a thread keeps for its readers (see `read_lent`),
/// and as many vectors of items.
const KEEP_BUFFERS: usize = 2;

/// The most a read buffer a thread keeps holds: one that grew larger (it
/// held a large frame) gives the rest back, or every thread would come to
/// keep the largest frames' room.
const KEEP_BUFFER_CAPACITY: usize = 2 * READ_SIZE;

thread_local! {
    /// Read buffers of this thread, lent to its readers for one read each.
    static READ_BUFFERS: std::cell::RefCell<Vec<Vec<u8>>> = const { std::cell::RefCell::new(Vec::new()) };
    /// Emptied vectors of what a read delivers, lent as the buffers are.
    static ITEMS: std::cell::RefCell<Vec<Vec<Delivered<'static>>>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A read of at least this many bytes of frames is followed by a yield
/// (see the end of `read_loop`).
const YIELD_AFTER: u64 = 64 * 1024;

/// The senders a link keeps the `from` members of: a link carries one
/// node, whose member changes only if the node restarts on a new address.
const LINK_SENDERS: usize = 2;

/// Within one read, the sink's limit is checked after this many frames or
/// bytes of frames.
const CHECK_FRAMES: usize = 1024;
const CHECK_BYTES: usize = 1024 * 1024;

/// What a reader holds of the kernel's shared state, given back however the
/// reader ends: when it returns, and when its task is aborted (a stop of the
/// kernel, or a newer link of its node closing it).
struct LinkGuard {
    shared: Arc<Shared>,
    id: u64,
    /// The node the link carries, once its first message said so.
    heard: Option<Arc<Heard>>,
    /// Bytes of a partial frame the link holds (in `inbound_held`).
    held: usize,
    /// The senders whose messages it reads by their shape (one, usually).
    senders: KnownSenders,
}

impl Drop for LinkGuard {
    fn drop(&mut self) {
        if let Some(h) = &self.heard {
            Hearing::detach(h);
            h.turn.leave(self.id);
        }
        self.shared.inbound_held.fetch_sub(self.held, Ordering::Relaxed);
    }
}

/// `ip`: the address the link comes from, where an observer's request is
/// answered. `poller`: on plain TCP links where a held thread keeps
/// nothing waiting, polls the socket for a short window after a small read
/// (`poll.rs`).
pub(super) async fn read_loop(shared: Arc<Shared>, id: u64, mut rd: Reader, poller: Option<Poller>, ip: IpAddr) {
    let mut decoder = FrameDecoder::new(shared.config().max_frame);
    let senders = KnownSenders::new(LINK_SENDERS);
    let mut link = LinkGuard { shared: shared.clone(), id, heard: None, held: 0, senders };
    // Whether the next read starts with a window of polling: after a small
    // read, not before the first (a link may stay quiet for long).
    let mut poll_next = false;
    let off_runtime = shared.sink.consumer_off_runtime();
    'reads: loop {
        // Large reads: a stream chunk is a frame of about 234 KB.
        let polled = match &poller {
            Some(p) if poll_next => {
                lend(&mut decoder);
                p.read(decoder.read_buffer(READ_SIZE))
            }
            _ => Polled::Quiet,
        };
        match polled {
            Polled::Read => {}
            Polled::Ended => break,
            Polled::Quiet => match read_lent(&mut rd, &mut decoder).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            },
        }
        if let Some(h) = &link.heard {
            h.heard_now();
            h.reads.fetch_add(1, Ordering::Relaxed);
        }
        // The settings once per read, not per frame.
        let cfg = shared.config();
        let (mut messages, mut bytes) = (0u64, 0u64);
        // One read can hold many frames, and a bad frame of one byte makes
        // a skip entry of a hundred: what the read holds is handed over,
        // and the sink's limit checked, every so many frames or bytes, not
        // only once per read.
        let (mut frames, mut bytes_in) = (0usize, 0usize);
        // The read's messages, borrowed from the decoder's buffer, go to
        // the sink together.
        let mut items = reborrow(lend_items());
        let mut decoded = decoder.frames();
        let mut closing = false;
        // The read handed the sink something (a message, a skip).
        let mut delivered = false;
        for frame in decoded.by_ref() {
            match frame {
                Decoded::Frame(frame) => {
                    bytes_in += frame.len();
                    bytes += frame.len() as u64 + 1;
                    messages += 1;
                    let open = match std::str::from_utf8(frame) {
                        Ok(text) => take_frame(&shared, &cfg, &mut link, ip, text, &mut items).await,
                        // Invalid UTF-8 becomes U+FFFD, as a JS receiver
                        // decoding utf8 does: text of its own, handed over
                        // alone, after what came before it.
                        Err(_) => {
                            delivered = true;
                            shared.sink.deliver(id, &mut items);
                            let text = String::from_utf8_lossy(frame).into_owned();
                            let mut one = Vec::with_capacity(1);
                            let open = take_frame(&shared, &cfg, &mut link, ip, &text, &mut one).await;
                            shared.sink.deliver(id, &mut one);
                            open
                        }
                    };
                    if !open {
                        closing = true;
                        break;
                    }
                }
                Decoded::TooLarge { limit } => {
                    let skip = Skip::FrameTooLarge { limit };
                    link.heard.as_deref().unwrap_or(&shared.hearing.unattributed).skip(&skip);
                    items.push(Delivered::Skip(skip));
                }
            }
            frames += 1;
            if frames >= CHECK_FRAMES || bytes_in >= CHECK_BYTES {
                (frames, bytes_in) = (0, 0);
                delivered |= !items.is_empty();
                shared.sink.deliver(id, &mut items);
                // Usually there is room, and the consumer is woken once for
                // the whole read.
                if shared.sink.is_full() {
                    shared.sink.wake_if_due();
                    shared.sink.wait_room().await;
                }
            }
        }
        delivered |= !items.is_empty();
        shared.sink.deliver(id, &mut items);
        keep_items(reborrow(items));
        // Every frame read is handed over: unless the read ended inside a
        // frame, the buffer goes back to the thread for the next reader.
        give_back(&mut decoder);
        if closing {
            break 'reads;
        }
        if let Some(h) = &link.heard {
            h.messages.fetch_add(messages, Ordering::Relaxed);
            h.bytes.fetch_add(bytes, Ordering::Relaxed);
        }
        // The budget of all connections' partial frames together: a
        // connection whose partial frame takes the total over it is closed.
        let now_held = decoder.pending();
        if now_held != link.held {
            if now_held > link.held {
                shared.inbound_held.fetch_add(now_held - link.held, Ordering::Relaxed);
            } else {
                shared.inbound_held.fetch_sub(link.held - now_held, Ordering::Relaxed);
            }
            link.held = now_held;
        }
        let budget = shared.inbound_budget.load(Ordering::Relaxed);
        if link.held > 0 && shared.inbound_held.load(Ordering::Relaxed) > budget {
            let skip = Skip::InboundBudget { limit: budget };
            tracing::debug!(socket = id, "closing an inbound connection: {skip}");
            link.heard.as_deref().unwrap_or(&shared.hearing.unattributed).skip(&skip);
            shared.sink.skip(id, &skip);
            shared.sink.wake_if_due();
            break;
        }
        // One wake-up of the consumer for everything this read delivered.
        shared.sink.wake_if_due();
        shared.sink.wait_room().await;
        // The consumer takes a large read's messages while they are in the
        // cache: a socket that always has more to read would otherwise keep
        // this task running (reads that find data never wait) until the
        // sink is full, megabytes later. After a small read the socket is
        // likely empty, the next read waits anyway, and a yield would only
        // cost a turn of the scheduler for a few messages.
        if bytes >= YIELD_AFTER {
            tokio::task::yield_now().await;
        }
        poll_next = poll::after_read(bytes, delivered, off_runtime);
    }
    drop(link);
    drop(decoder);
    tracing::debug!(socket = id, "inbound connection closed");
    shared.sink.wake_if_due();
    if shared.remove_source(id).is_some() {
        shared.sink.event(LinkEvent::SocketClose { socket: id });
    }
}

/// Reads the socket into the decoder's buffer, where the decoder holds
/// none (every frame of the last read handed over) one lent by the thread
/// the read completes on, taken only for the attempt that finds data.
///
/// Why: a link's own buffer is touched again only at its next read. In a
/// mesh of 32 nodes on two cores each link is read about ten times a
/// second, so its buffer had left the cache by then and the system's copy
/// into it and every scan of it missed; the readers of one thread read one
/// after another, and its buffers are still in the cache. Waiting for data
/// holds no buffer (a link that stays quiet holds none at all); a read
/// that ends inside a frame keeps its buffer until the frame is complete.
async fn read_lent(rd: &mut Reader, decoder: &mut FrameDecoder) -> std::io::Result<usize> {
    std::future::poll_fn(|cx| {
        lend(decoder);
        let read = std::pin::pin!(rd.read_buf(decoder.read_buffer(READ_SIZE))).poll(cx);
        if read.is_pending() {
            give_back(decoder);
        }
        read
    })
    .await
}

/// Gives a decoder that holds no buffer one of this thread's.
fn lend(decoder: &mut FrameDecoder) {
    if !decoder.has_buffer() {
        if let Some(buf) = spare::take_kept(&READ_BUFFERS) {
            // It has none, so it takes this one.
            let _ = decoder.give_buffer(buf);
        }
    }
}

/// Takes back the buffer of a decoder that holds no partial frame.
fn give_back(decoder: &mut FrameDecoder) {
    if let Some(buf) = decoder.take_buffer() {
        keep(buf);
    }
}

/// Keeps an empty read buffer for this thread's next read (at most
/// `KEEP_BUFFER_CAPACITY` of it), unless enough are kept.
fn keep(mut buf: Vec<u8>) {
    buf.clear();
    buf.shrink_to(KEEP_BUFFER_CAPACITY);
    spare::keep(&READ_BUFFERS, buf, KEEP_BUFFERS);
}

/// An empty vector for the items of one read: one of this thread's, for
/// the reason `read_lent` gives (a link's own, filled at its next read
/// only, missed in the cache at every item).
fn lend_items() -> Vec<Delivered<'static>> {
    spare::take_kept(&ITEMS).unwrap_or_default()
}

/// Keeps an emptied vector of items for this thread's next read, unless
/// enough are kept. (A read delivers every `CHECK_FRAMES` items, so none
/// grows past that.)
fn keep_items(items: Vec<Delivered<'static>>) {
    debug_assert!(items.is_empty());
    spare::keep(&ITEMS, items, KEEP_BUFFERS);
}

/// An empty vector of items, with the room of `items` (emptied) but of
/// another lifetime: the read buffer the items of one read borrow is not
/// the next one's, and the vector is not allocated again for each read.
fn reborrow<'b>(mut items: Vec<Delivered<'_>>) -> Vec<Delivered<'b>> {
    items.clear();
    // Collected in place: an empty vector's allocation is reused as is.
    items.into_iter().map_while(|_| None).collect()
}

/// Decodes the text of one frame of link `link.id` and routes it, into
/// `items` for what goes to the sink. The first frame that names its node
/// may have to wait for an older link of that node (see `handover.rs`):
/// false when this link is to close instead.
async fn take_frame<'t>(shared: &Arc<Shared>, cfg: &Arc<Config>, link: &mut LinkGuard, ip: IpAddr, text: &'t str, items: &mut Vec<Delivered<'t>>) -> bool {
    let decoded = envelope::decode_with(text, cfg.cookie.as_ref(), &mut link.senders);
    if link.heard.is_none() {
        if let Some(node) = sender(&decoded) {
            let h = shared.hearing.attach(node);
            link.heard = Some(h.clone());
            if !h.turn.join(link.id) && !take_turn(shared, link.id, &h).await {
                return false;
            }
        }
    }
    route(shared, cfg, decoded, link.heard.as_deref(), ip, items);
    true
}

/// The node a decoded frame comes from, if it says.
fn sender<'a>(decoded: &'a Result<Inbound<'_>, Skip>) -> Option<&'a str> {
    match decoded {
        Ok(Inbound::Message(Message { from, .. }) | Inbound::Ping(Ping { from, .. })) => from.id.as_deref(),
        _ => None,
    }
}

/// Another link of the node that link `id` carries is open: waits for this
/// one's turn to deliver (see `handover.rs`), and closes the links the node
/// gave up. False when a newer link of the node took over first, and this
/// one is to be closed.
async fn take_turn(shared: &Arc<Shared>, id: u64, h: &Arc<Heard>) -> bool {
    tracing::debug!(socket = id, "an older link of this node is open: delivering once it is done");
    let reads = || h.reads.load(Ordering::Relaxed);
    // Its frames wait in our buffers: the node is not silent.
    let refresh = || h.last_us.store(now_us(), Ordering::Relaxed);
    let Some(older) = handover::wait(&h.turn, id, reads, refresh).await else {
        tracing::debug!(socket = id, "a newer link of this node took over: closing this one");
        return false;
    };
    for old in older {
        if let Some(source) = shared.remove_source(old) {
            tracing::debug!(socket = old, "closing a link its node gave up: socket {id} replaces it");
            source.close_and_wait().await;
            shared.sink.event(LinkEvent::SocketClose { socket: old });
        }
    }
    true
}

/// Routes one decoded frame of an inbound link: messages, and bad
/// frames skipped, into `items` for the sink; pings answered here. `heard`
/// is the node the link carries, once known.
fn route<'t>(shared: &Arc<Shared>, cfg: &Arc<Config>, decoded: Result<Inbound<'t>, Skip>, heard: Option<&Heard>, ip: IpAddr, items: &mut Vec<Delivered<'t>>) {
    match decoded {
        Ok(Inbound::Message(m)) => match health::tick_reply(m.event_raw) {
            // The answer to one of our keep-alive pings: its round trip.
            Some(stamp) if m.tag.is_none() => {
                if let Some(h) = heard {
                    h.rtt_us.store(now_us().saturating_sub(stamp).max(1), Ordering::Relaxed);
                }
            }
            // An observer's request: answered here, never delivered.
            _ if observe::is_request(&m) => observe::answer(shared, cfg, &m, ip),
            _ => items.push(Delivered::Message(m)),
        },
        Ok(Inbound::Ping(p)) => {
            // The JS kernel answers only a sender it has a link to, found by
            // `from.id`: a string, as every link's node id is.
            let Some(peer) = p.from.id.as_deref().and_then(|id| shared.peer_for_node(id)) else { return };
            // The reply a JS kernel sends: a cast of "pong" to the tag,
            // written from this thread when our link to the sender is idle.
            let mut body = String::with_capacity(cfg.from_json.len() + p.tag.map_or(0, str::len) + 80);
            match p.tag_str() {
                Some(tag) => envelope::write_pong_line(&mut body, &cfg.from_json, &tag),
                // Another value is echoed as JSON.stringify writes it; it was
                // validated as the frame was read, so it has a canonical form.
                None => match p.tag.map(json::canonicalize).transpose() {
                    Ok(tag) => envelope::write_pong_line_json(&mut body, &cfg.from_json, tag.as_deref()),
                    Err(_) => return,
                },
            }
            peer.send_bodies(body, cfg.clone(), true);
            // The next ping of a sender pinging in turn comes soon.
            poll::note_conversation();
        }
        Ok(Inbound::Other(kind)) => tracing::debug!("ignoring a frame of type {kind:?}"),
        Err(skip) => {
            heard.unwrap_or(&shared.hearing.unattributed).skip(&skip);
            items.push(Delivered::Skip(skip));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tokio::io::AsyncWriteExt;

    /// The addresses of the buffers this thread keeps.
    fn kept() -> Vec<usize> {
        READ_BUFFERS.with(|b| b.borrow().iter().map(|v| v.as_ptr() as usize).collect())
    }

    #[test]
    fn a_reader_holds_a_threads_buffer_only_from_a_read_to_the_end_of_its_frames() {
        // A thread of its own: the buffers kept are the thread's.
        std::thread::spawn(|| {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async {
                let (mut peer, ours) = tokio::io::duplex(4096);
                let mut rd: Reader = Box::new(ours);
                let mut decoder = FrameDecoder::new(1 << 20);
                // The decoder's first buffer becomes the thread's (in place of
                // it, one with the room a read makes, so that reads keep it).
                give_back(&mut decoder);
                assert_eq!(kept().len(), 1);
                READ_BUFFERS.with(|b| b.borrow_mut().clear());
                keep(Vec::with_capacity(READ_SIZE));
                let buffers = kept();
                assert_eq!(buffers.len(), 1);
                // Waiting for data holds no buffer.
                let waited = tokio::time::timeout(Duration::from_millis(20), read_lent(&mut rd, &mut decoder)).await;
                assert!(waited.is_err(), "nothing to read");
                assert_eq!(kept(), buffers);
                // A read takes it, and the end of its frames gives it back.
                peer.write_all(b"one\x0ctwo\x0c").await.unwrap();
                assert_eq!(read_lent(&mut rd, &mut decoder).await.unwrap(), 8);
                assert!(kept().is_empty(), "lent to the read");
                assert_eq!(decoder.frames().count(), 2);
                give_back(&mut decoder);
                assert_eq!(kept(), buffers);
                // A read that ends inside a frame keeps the buffer until the
                // frame is whole.
                peer.write_all(b"thr").await.unwrap();
                read_lent(&mut rd, &mut decoder).await.unwrap();
                assert_eq!(decoder.frames().count(), 0);
                give_back(&mut decoder);
                assert!(kept().is_empty(), "held for the frame's beginning");
                peer.write_all(b"ee\x0c").await.unwrap();
                read_lent(&mut rd, &mut decoder).await.unwrap();
                let frames: Vec<Vec<u8>> = decoder
                    .frames()
                    .filter_map(|f| match f {
                        Decoded::Frame(b) => Some(b.to_vec()),
                        Decoded::TooLarge { .. } => None,
                    })
                    .collect();
                assert_eq!(frames, [b"three".to_vec()]);
                give_back(&mut decoder);
                // Back to the thread (grown, to make a read's room behind the
                // frame's beginning: another buffer).
                assert_eq!(kept().len(), 1);
            });
            // The vectors of a read's items are lent the same way: the next
            // read gets the room the last one made, and a few are kept.
            let mut items = lend_items();
            items.push(Delivered::Skip(Skip::InboundBudget { limit: 1 }));
            items.clear();
            let (room, at) = (items.capacity(), items.as_ptr() as usize);
            keep_items(items);
            let again = lend_items();
            assert_eq!((again.capacity(), again.as_ptr() as usize), (room, at));
            for _ in 0..KEEP_BUFFERS + 2 {
                keep_items(Vec::with_capacity(1));
            }
            assert_eq!(ITEMS.with(|v| v.borrow().len()), KEEP_BUFFERS);
            // A thread keeps a few buffers, one that grew with a large frame
            // at the usual size.
            for _ in 0..KEEP_BUFFERS + 2 {
                keep(Vec::with_capacity(64));
            }
            assert_eq!(kept().len(), KEEP_BUFFERS);
            READ_BUFFERS.with(|b| b.borrow_mut().clear());
            keep(Vec::with_capacity(4 * KEEP_BUFFER_CAPACITY));
            let capacity = READ_BUFFERS.with(|b| b.borrow().iter().map(Vec::capacity).collect::<Vec<_>>());
            assert_eq!(capacity.len(), 1);
            assert!(capacity[0] <= KEEP_BUFFER_CAPACITY, "{capacity:?}");
        })
        .join()
        .unwrap();
    }
}
