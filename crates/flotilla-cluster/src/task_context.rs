//! What the task running on this thread is: a registered function may ask
//! (its key, its attempt, the retries it has left), for example to do
//! something else on its last attempt than fail.

use std::cell::RefCell;
use std::sync::Arc;

/// The task a worker thread is running.
///
/// ```
/// use flotilla_cluster::{remote, Client, TaskContext};
///
/// /// Its own attempt and retries left, as the worker saw them.
/// #[remote(crate = flotilla_cluster)]
/// fn whoami() -> (u32, u32) {
///     let me = TaskContext::current().expect("running as a task");
///     (me.attempt(), me.retries_left())
/// }
///
/// fn main() -> Result<(), Box<dyn std::error::Error>> {
///     assert!(TaskContext::current().is_none()); // not a task here
///     let client = Client::in_process(1)?;
///     assert_eq!(client.submit(whoami::call().retries(2))?.result()?, (1, 2));
///     Ok(())
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskContext {
    key: String,
    attempt: u32,
    failures: u32,
    retries_left: u32,
}

thread_local! {
    static CURRENT: RefCell<Option<TaskContext>> = const { RefCell::new(None) };
    /// The results the running task reads as arguments, as the worker
    /// holds them (see [`shared_input`]): a stack, a task entered inside
    /// another pushing its own on top, so that after warm-up a task costs
    /// no allocation here.
    static INPUTS: RefCell<Vec<Arc<Vec<u8>>>> = const { RefCell::new(Vec::new()) };
}

/// The worker's own copy of the argument bytes `arg` of the task running
/// on this thread, and where `arg` starts in it, when `arg` lies in the
/// result of another task (not in a value sent with the task). A task
/// that keeps views of its arguments past its return (Arrow buffers, say)
/// takes them from this shared copy instead of copying the bytes.
///
/// ```
/// assert!(flotilla_cluster::__private::shared_input(b"not a task's input").is_none());
/// ```
#[doc(hidden)]
pub fn shared_input(arg: &[u8]) -> Option<(Arc<Vec<u8>>, usize)> {
    let start = arg.as_ptr() as usize;
    INPUTS.with(|inputs| {
        inputs.borrow().iter().find_map(|input| {
            let base = input.as_ptr() as usize;
            let inside = start >= base && start + arg.len() <= base + input.len();
            inside.then(|| (Arc::clone(input), start - base))
        })
    })
}

impl TaskContext {
    /// The task running on this thread, when a worker runs one.
    ///
    /// ```
    /// assert_eq!(flotilla_cluster::TaskContext::current(), None);
    /// ```
    pub fn current() -> Option<TaskContext> {
        CURRENT.with(|c| c.borrow().clone())
    }

    /// Its key (`name[3]`), as the scheduler names it in messages.
    ///
    /// ```
    /// # use flotilla_cluster::{remote, Client, TaskContext};
    /// #[remote(crate = flotilla_cluster)]
    /// fn key() -> String {
    ///     TaskContext::current().map(|t| t.key().to_string()).unwrap_or_default()
    /// }
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let client = Client::in_process(1)?;
    /// assert!(client.submit(key::call())?.result()?.contains("key"));
    /// # Ok(())
    /// # }
    /// ```
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Which try this is, from 1 (a task moved to another worker or
    /// re-run after its worker was lost counts a try too).
    ///
    /// ```
    /// # use flotilla_cluster::{remote, Client, TaskContext};
    /// #[remote(crate = flotilla_cluster)]
    /// fn attempt() -> u32 {
    ///     TaskContext::current().map_or(0, |t| t.attempt())
    /// }
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let client = Client::in_process(1)?;
    /// assert_eq!(client.submit(attempt::call())?.result()?, 1);
    /// # Ok(())
    /// # }
    /// ```
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// The tries of this task that failed with an error or a panic before
    /// this one (tries ended by a lost worker or a move do not count).
    ///
    /// ```
    /// # use flotilla_cluster::{remote, Client, TaskContext};
    /// #[remote(crate = flotilla_cluster)]
    /// fn failures() -> u32 {
    ///     TaskContext::current().map_or(99, |t| t.failures())
    /// }
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let client = Client::in_process(1)?;
    /// assert_eq!(client.submit(failures::call())?.result()?, 0);
    /// # Ok(())
    /// # }
    /// ```
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// The retries left after this try if it fails with an error or a
    /// panic; 0 on the last.
    ///
    /// ```
    /// # use flotilla_cluster::{remote, Client, TaskContext};
    /// #[remote(crate = flotilla_cluster)]
    /// fn left() -> u32 {
    ///     TaskContext::current().map_or(99, |t| t.retries_left())
    /// }
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let client = Client::in_process(1)?;
    /// assert_eq!(client.submit(left::call())?.result()?, 0);
    /// # Ok(())
    /// # }
    /// ```
    pub fn retries_left(&self) -> u32 {
        self.retries_left
    }

    /// Runs `f` as the task `self` on this thread, reading `inputs` (the
    /// task that ran before, if any, is current again after).
    pub(crate) fn enter<R>(self, inputs: &[Arc<Vec<u8>>], f: impl FnOnce() -> R) -> R {
        struct Leave(Option<TaskContext>, usize);
        impl Drop for Leave {
            fn drop(&mut self) {
                let before = self.0.take();
                CURRENT.with(|c| *c.borrow_mut() = before);
                INPUTS.with(|i| i.borrow_mut().truncate(self.1));
            }
        }
        let before = CURRENT.with(|c| c.borrow_mut().replace(self));
        let depth = INPUTS.with(|i| {
            let mut stack = i.borrow_mut();
            let depth = stack.len();
            stack.extend(inputs.iter().cloned());
            depth
        });
        let _leave = Leave(before, depth);
        f()
    }

    pub(crate) fn new(key: String, attempt: u32, failures: u32, retries_left: u32) -> TaskContext {
        TaskContext {
            key,
            attempt,
            failures,
            retries_left,
        }
    }
}
