//! Emptied buffers of frames (their text and where each frame ends), kept
//! for the next frames. A flood fills such a buffer per batch; allocating
//! each anew had the allocator map it, or give its memory back to the
//! system, and fault it in again every time. Used by the copies a link
//! keeps until acknowledged (`unacked`) and by the commands a peer task
//! holds while a write waits (`peer/queue.rs`). Here too: the few emptied
//! buffers each thread keeps for the tasks it runs ([`take_kept`],
//! [`keep`]).

/// How many buffers are kept.
const KEEP: usize = 4;

/// The largest buffer kept: a write is at most about 64 KiB, so a larger
/// one held a single large frame, and is given back.
const KEEP_CAPACITY: usize = 1024 * 1024;

/// Emptied values a thread keeps for the tasks it runs to borrow, one task
/// after another: memory the thread touched last, still in its cache,
/// where a link's own buffer, touched again only at that link's next write
/// or read, would not be (`peer/write.rs`'s `Scratch`, the reader's
/// buffers in `server/read.rs`).
pub(crate) type ThreadKeep<T> = std::thread::LocalKey<std::cell::RefCell<Vec<T>>>;

/// One of the values this thread keeps in `kept`, if any (none during the
/// thread's exit).
pub(crate) fn take_kept<T: 'static>(kept: &'static ThreadKeep<T>) -> Option<T> {
    kept.try_with(|k| k.borrow_mut().pop()).ok().flatten()
}

/// Keeps `value`, emptied by the caller, in this thread's `kept`, unless
/// `most` are kept already; else it is freed (so too during the thread's
/// exit).
pub(crate) fn keep<T: 'static>(kept: &'static ThreadKeep<T>, value: T, most: usize) {
    let _ = kept.try_with(|k| {
        let mut k = k.borrow_mut();
        if k.len() < most {
            k.push(value);
        }
    });
}

/// A few emptied buffers of frames, for the next ones.
#[derive(Debug, Default)]
pub(crate) struct SpareFrames(Vec<(String, Vec<usize>)>);

impl SpareFrames {
    /// An emptied buffer and its list of ends, or new ones.
    pub(crate) fn take(&mut self) -> (String, Vec<usize>) {
        self.0.pop().unwrap_or_default()
    }

    /// Keeps `text` and `ends`, emptied, unless enough are kept or the
    /// buffer is larger than a write.
    pub(crate) fn give(&mut self, mut text: String, mut ends: Vec<usize>) {
        if self.0.len() < KEEP && text.capacity() <= KEEP_CAPACITY {
            text.clear();
            ends.clear();
            self.0.push((text, ends));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_few_buffers_are_kept_emptied_and_a_large_one_is_not() {
        let mut spare = SpareFrames::default();
        for _ in 0..KEEP + 2 {
            spare.give(String::from("frame\x0c"), vec![6]);
        }
        spare.give(String::with_capacity(KEEP_CAPACITY + 1), Vec::new());
        let mut kept = 0;
        loop {
            let (text, ends) = spare.take();
            if text.capacity() == 0 {
                break;
            }
            assert!(text.is_empty() && ends.is_empty(), "kept emptied");
            assert!(text.capacity() <= KEEP_CAPACITY);
            kept += 1;
        }
        assert_eq!(kept, KEEP);
    }
}
