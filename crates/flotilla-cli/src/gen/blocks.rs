//! An ordered, bounded pipeline of blocks: worker threads render blocks in
//! parallel, the calling thread consumes them strictly in index order.
//!
//! ```text
//!  worker 1 ─┐  take index i, render block i into a buffer
//!  worker 2 ─┼─► finished: {i → buffer}  ──►  caller: consume block 0, 1, 2, …
//!  worker n ─┘        ▲                                   │
//!                     └───── spare buffers, free slots ◄──┘
//! ```
//!
//! A worker may take index `i` only while `i < consumed + window`, where
//! `window` is twice the number of workers, so at most `window` blocks exist
//! at any time (being rendered or waiting to be consumed) whatever the total
//! number of blocks. Buffers are recycled, so after the first `window`
//! blocks nothing more is allocated.
//!
//! The result does not depend on the number of workers as long as `render`
//! depends only on the block index.

use std::collections::BTreeMap;
use std::io;
use std::ops::ControlFlow;
use std::panic;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;

/// State shared by the workers and the consuming thread.
struct Pipeline {
    /// The mutable part, under one lock (it is touched once per block).
    state: Mutex<State>,
    /// Signalled when a block is finished (the consumer waits on it).
    finished: Condvar,
    /// Signalled when the window moves or the pipeline closes (workers wait
    /// on it).
    progress: Condvar,
}

/// The mutable state of a [`Pipeline`].
#[derive(Default)]
struct State {
    /// The next block index to hand to a worker.
    next: usize,
    /// The number of blocks the consumer has taken so far.
    consumed: usize,
    /// Rendered blocks not yet consumed, by index.
    finished: BTreeMap<usize, Vec<u8>>,
    /// Buffers of consumed blocks, ready for reuse.
    spare: Vec<Vec<u8>>,
    /// Set when no more blocks are wanted: workers stop taking indices.
    closed: bool,
    /// Set when a worker panicked: its block will never come.
    worker_panicked: bool,
}

impl Pipeline {
    /// Locks the state. A poisoned lock is still consistent here (nothing
    /// panics while holding it), so poisoning is ignored.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Marks the pipeline broken if a worker unwinds, so the consumer does not
/// wait forever for a block that will never be finished.
struct PanicAlarm<'a>(&'a Pipeline);

impl Drop for PanicAlarm<'_> {
    fn drop(&mut self) {
        if thread::panicking() {
            let mut state = self.0.lock();
            state.worker_panicked = true;
            state.closed = true;
            drop(state);
            self.0.finished.notify_all();
            self.0.progress.notify_all();
        }
    }
}

/// Closes the pipeline when dropped: workers then stop taking blocks.
struct Closer<'a>(&'a Pipeline);

impl Drop for Closer<'_> {
    fn drop(&mut self) {
        self.0.lock().closed = true;
        self.0.progress.notify_all();
    }
}

/// Renders blocks `0..count` (or `0..` without end when `count` is `None`)
/// with `render` on `workers` threads, and passes them in index order to
/// `consume` on the calling thread, until all blocks are consumed or
/// `consume` returns `Break`.
///
/// `render(index, buffer)` receives an empty buffer and appends the block's
/// bytes to it. The first error returned by `consume` stops the pipeline and
/// is returned.
///
/// # Panics
///
/// Panics with a worker's panic if a worker panics.
pub(super) fn run_blocks<R, C>(
    workers: usize,
    count: Option<usize>,
    render: R,
    mut consume: C,
) -> io::Result<()>
where
    R: Fn(usize, &mut Vec<u8>) + Sync,
    C: FnMut(&[u8]) -> io::Result<ControlFlow<()>>,
{
    let workers = workers.max(1);
    let window = 2 * workers;
    let end = count.unwrap_or(usize::MAX);
    let pipeline = Pipeline {
        state: Mutex::new(State::default()),
        finished: Condvar::new(),
        progress: Condvar::new(),
    };
    let pipeline = &pipeline;
    let render = &render;
    thread::scope(|scope| {
        let mut handles = Vec::with_capacity(workers);
        for _ in 0..workers.min(end) {
            handles.push(scope.spawn(move || {
                let _alarm = PanicAlarm(pipeline);
                loop {
                    let (index, mut buffer) = {
                        let mut state = pipeline.lock();
                        while !state.closed
                            && state.next < end
                            && state.next >= state.consumed + window
                        {
                            state = pipeline
                                .progress
                                .wait(state)
                                .unwrap_or_else(PoisonError::into_inner);
                        }
                        if state.closed || state.next >= end {
                            return;
                        }
                        let index = state.next;
                        state.next += 1;
                        (index, state.spare.pop().unwrap_or_default())
                    };
                    buffer.clear();
                    render(index, &mut buffer);
                    pipeline.lock().finished.insert(index, buffer);
                    pipeline.finished.notify_one();
                }
            }));
        }

        // Closes the pipeline when the consumer is done, returns early or
        // panics, so that no worker waits for room that will never come.
        let closer = Closer(pipeline);
        let result = (|| {
            for index in 0..end {
                let buffer = {
                    let mut state = pipeline.lock();
                    loop {
                        if let Some(buffer) = state.finished.remove(&index) {
                            break buffer;
                        }
                        if state.worker_panicked {
                            // The worker's panic is re-raised below.
                            return Ok(());
                        }
                        state = pipeline
                            .finished
                            .wait(state)
                            .unwrap_or_else(PoisonError::into_inner);
                    }
                };
                let flow = consume(&buffer);
                let mut state = pipeline.lock();
                state.consumed = index + 1;
                state.spare.push(buffer);
                drop(state);
                pipeline.progress.notify_all();
                if flow?.is_break() {
                    break;
                }
            }
            Ok(())
        })();
        drop(closer);
        for handle in handles {
            if let Err(payload) = handle.join() {
                // Re-raise the worker's own panic, message included.
                panic::resume_unwind(payload);
            }
        }
        result
    })
}
