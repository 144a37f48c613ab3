//! Functions that run on a cluster, registered by name at compile time.
//!
//! A closure cannot cross a process boundary, so a task on the wire is a
//! function's *name* and its encoded arguments. `#[flotilla::remote]` on a
//! free function registers it under its module path (with [`inventory`],
//! before `main` runs) and makes a module of the same name beside it
//! holding the typed handle:
//!
//! ```
//! use flotilla_cluster::remote;
//!
//! /// Adds two numbers.
//! #[remote(crate = flotilla_cluster)]
//! fn add(a: i64, b: i64) -> i64 {
//!     a + b
//! }
//!
//! fn main() {
//!     assert_eq!(add(2, 3), 5); // still a plain function
//!     assert!(add::REMOTE.name().ends_with("::add"));
//!     // `add::call(2, 3)` is the task a client submits; a wrong argument
//!     // type is a compile error, as for the function itself.
//!     let _task = add::call(2, 3);
//! }
//! ```
//!
//! Register functions at module level (not inside another function's
//! body): the generated module refers to the function through `super`.
//!
//! Every process that runs the same binary has the same registry, so a
//! worker started from the client's binary runs the client's functions.

use std::collections::HashMap;
use std::fmt;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::client::ClusterFuture;
use crate::protocol::messages::ClientArg;

/// A function the workers of this binary can run by name: its name and
/// the wrapper that decodes its arguments, calls it and encodes its
/// result. Made by `#[remote]`; not meant to be built by hand.
///
/// ```
/// use flotilla_cluster::{registered_functions, remote};
///
/// #[remote(crate = flotilla_cluster)]
/// fn double(x: u32) -> u32 {
///     2 * x
/// }
///
/// fn main() {
///     // `#[remote]` made a `RemoteFunction` for `double`, listed by its name.
///     assert!(registered_functions().contains(&double::REMOTE.name()));
/// }
/// ```
pub struct RemoteFunction {
    name: &'static str,
    call: EncodedCall,
}

/// A registered function's wrapper: encoded arguments in, the encoded
/// result or an error message out.
type EncodedCall = fn(&[&[u8]]) -> Result<Vec<u8>, String>;

impl fmt::Debug for RemoteFunction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteFunction")
            .field("name", &self.name)
            .finish()
    }
}

inventory::collect!(RemoteFunction);

impl RemoteFunction {
    /// A function registered under `name`, run through `call`. `#[remote]`
    /// writes this, with the function's module path and its wrapper.
    ///
    /// ```
    /// use flotilla_cluster::RemoteFunction;
    ///
    /// fn nothing(_args: &[&[u8]]) -> Result<Vec<u8>, String> {
    ///     Ok(Vec::new())
    /// }
    ///
    /// const NOTHING: RemoteFunction = RemoteFunction::new("my_crate::nothing", nothing);
    /// assert_eq!(NOTHING.name(), "my_crate::nothing");
    /// ```
    #[doc(hidden)]
    pub const fn new(name: &'static str, call: EncodedCall) -> Self {
        RemoteFunction { name, call }
    }

    /// The name it is registered under (its module path and name).
    ///
    /// ```
    /// use flotilla_cluster::RemoteFunction;
    ///
    /// /// What `#[remote]` writes for a function: decode, call, encode.
    /// fn echo(args: &[&[u8]]) -> Result<Vec<u8>, String> {
    ///     Ok(args.concat())
    /// }
    ///
    /// // Built by hand here; `#[remote]` names it by the function's path.
    /// const ECHO: RemoteFunction = RemoteFunction::new("my_crate::echo", echo);
    /// assert_eq!(ECHO.name(), "my_crate::echo");
    /// ```
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Runs it on encoded arguments.
    pub(crate) fn call(&self, args: &[&[u8]]) -> Result<Vec<u8>, String> {
        (self.call)(args)
    }
}

/// The name of the built-in task that holds a scattered value: it returns
/// its one argument's bytes as they are.
pub(crate) const SCATTER: &str = "flotilla::scatter";

fn scatter_value(args: &[&[u8]]) -> Result<Vec<u8>, String> {
    check_arity(args, 1, SCATTER)?;
    Ok(args[0].to_vec())
}

inventory::submit! { RemoteFunction::new(SCATTER, scatter_value) }

/// A closure given to an in-process client: the same wrapper as a
/// registered function's, made at run time.
pub(crate) type LocalFn = Arc<dyn Fn(&[&[u8]]) -> Result<Vec<u8>, String> + Send + Sync>;

/// The closures of in-process clients, by the name their tasks carry. Only
/// a worker thread of this process can run them.
fn closures() -> &'static Mutex<HashMap<String, LocalFn>> {
    static CLOSURES: OnceLock<Mutex<HashMap<String, LocalFn>>> = OnceLock::new();
    CLOSURES.get_or_init(|| Mutex::new(HashMap::new()))
}

fn lock_closures() -> MutexGuard<'static, HashMap<String, LocalFn>> {
    closures().lock().unwrap_or_else(|p| p.into_inner())
}

/// Makes `f` runnable by this process's workers under `name`.
pub(crate) fn register_closure(name: String, f: LocalFn) {
    lock_closures().insert(name, f);
}

/// Forgets the closures of these names.
pub(crate) fn forget_closures(names: &[String]) {
    let mut table = lock_closures();
    for n in names {
        table.remove(n);
    }
}

/// What a task's function name stands for in this process.
pub(crate) enum Callable {
    Registered(&'static RemoteFunction),
    Closure(LocalFn),
}

impl Callable {
    pub(crate) fn call(&self, args: &[&[u8]]) -> Result<Vec<u8>, String> {
        match self {
            Callable::Registered(f) => f.call(args),
            Callable::Closure(f) => f(args),
        }
    }
}

/// The function a task names: registered in this binary, or a closure of
/// an in-process client.
pub(crate) fn find(name: &str) -> Option<Callable> {
    if let Some(f) = lookup(name) {
        return Some(Callable::Registered(f));
    }
    lock_closures().get(name).cloned().map(Callable::Closure)
}

/// The registered function of that name in this binary.
pub(crate) fn lookup(name: &str) -> Option<&'static RemoteFunction> {
    static TABLE: OnceLock<HashMap<&'static str, &'static RemoteFunction>> = OnceLock::new();
    TABLE
        .get_or_init(|| {
            inventory::iter::<RemoteFunction>
                .into_iter()
                .map(|f| (f.name, f))
                .collect()
        })
        .get(name)
        .copied()
}

/// The names of every function registered in this binary, sorted.
///
/// ```
/// #[flotilla_cluster::remote(crate = flotilla_cluster)]
/// fn double(x: u32) -> u32 { 2 * x }
///
/// fn main() {
///     assert!(flotilla_cluster::registered_functions().iter().any(|n| n.ends_with("::double")));
/// }
/// ```
pub fn registered_functions() -> Vec<&'static str> {
    let mut names: Vec<_> = inventory::iter::<RemoteFunction>
        .into_iter()
        .map(|f| f.name)
        .collect();
    names.sort_unstable();
    names
}

/// The typed handle of a registered function taking `A` (a tuple of its
/// arguments) and returning `R`: `#[remote] fn f(..)` makes it as
/// `f::REMOTE`. [`Client::map`](crate::Client::map) takes one.
///
/// ```
/// use flotilla_cluster::{remote, Client, Remote};
///
/// #[remote(crate = flotilla_cluster)]
/// fn add(a: i64, b: i64) -> i64 {
///     a + b
/// }
///
/// fn main() -> Result<(), Box<dyn std::error::Error>> {
///     let handle: Remote<(i64, i64), i64> = add::REMOTE;
///     assert_eq!(handle.call_here((2, 3)), 5);
///
///     let client = Client::in_process(2)?;
///     let sums = client.map(handle, (vec![1, 2], vec![10, 20]))?;
///     assert_eq!(client.gather(&sums)?, [11, 22]);
///     Ok(())
/// }
/// ```
pub struct Remote<A, R> {
    name: &'static str,
    local: fn(A) -> R,
    _types: PhantomData<fn(A) -> R>,
}

impl<A, R> Clone for Remote<A, R> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<A, R> Copy for Remote<A, R> {}

impl<A, R> fmt::Debug for Remote<A, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Remote({})", self.name)
    }
}

impl<A, R> Remote<A, R> {
    /// The handle of the function registered under `name`, which `local`
    /// calls in this process. `#[remote]` writes this as `f::REMOTE`.
    ///
    /// ```
    /// use flotilla_cluster::Remote;
    ///
    /// fn twice((x,): (u32,)) -> u32 {
    ///     2 * x
    /// }
    ///
    /// const TWICE: Remote<(u32,), u32> = Remote::new("my_crate::twice", twice);
    /// assert_eq!(TWICE.name(), "my_crate::twice");
    /// assert_eq!(TWICE.call_here((21,)), 42);
    /// ```
    #[doc(hidden)]
    pub const fn new(name: &'static str, local: fn(A) -> R) -> Self {
        Remote {
            name,
            local,
            _types: PhantomData,
        }
    }

    /// The name the function is registered under.
    ///
    /// ```
    /// mod maths {
    ///     #[flotilla_cluster::remote(crate = flotilla_cluster)]
    ///     pub fn add(a: i64, b: i64) -> i64 {
    ///         a + b
    ///     }
    /// }
    ///
    /// fn main() {
    ///     // The module path and the function's name.
    ///     assert!(maths::add::REMOTE.name().ends_with("::maths::add"));
    /// }
    /// ```
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Calls the function here, in this process.
    ///
    /// ```
    /// use flotilla_cluster::remote;
    ///
    /// #[remote(crate = flotilla_cluster)]
    /// fn add(a: i64, b: i64) -> i64 {
    ///     a + b
    /// }
    ///
    /// fn main() {
    ///     // No cluster involved: the arguments as one tuple.
    ///     assert_eq!(add::REMOTE.call_here((2, 3)), 5);
    /// }
    /// ```
    pub fn call_here(&self, args: A) -> R {
        (self.local)(args)
    }
}

/// The batch form of a one-argument `#[remote]` function `f`, `f::BATCH`:
/// one task applies `f` to every item of a `Vec`, so that many small
/// items pay for one task, not one each.
///
/// ```
/// use flotilla_cluster::{remote, Client};
///
/// #[remote(crate = flotilla_cluster)]
/// fn square(x: u64) -> u64 {
///     x * x
/// }
///
/// fn main() -> Result<(), Box<dyn std::error::Error>> {
///     let client = Client::in_process(2)?;
///     let squares = client.submit(square::BATCH.call(vec![1, 2, 3]))?;
///     assert_eq!(squares.result()?, vec![1, 4, 9]);
///     Ok(())
/// }
/// ```
pub struct Batch<A, R> {
    name: &'static str,
    _types: PhantomData<fn(A) -> R>,
}

impl<A, R> Clone for Batch<A, R> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<A, R> Copy for Batch<A, R> {}

impl<A, R> fmt::Debug for Batch<A, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Batch({})", self.name)
    }
}

impl<A: Serialize, R> Batch<A, R> {
    #[doc(hidden)]
    pub const fn new(name: &'static str) -> Self {
        Batch {
            name,
            _types: PhantomData,
        }
    }

    /// The name the batch form is registered under (the function's, with
    /// `#batch`).
    ///
    /// ```
    /// #[flotilla_cluster::remote(crate = flotilla_cluster)]
    /// fn double(x: i32) -> i32 {
    ///     2 * x
    /// }
    ///
    /// fn main() {
    ///     assert!(double::BATCH.name().ends_with("::double#batch"));
    /// }
    /// ```
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The task that applies the function to each of `items`: a `Vec` of
    /// values, or the future of an earlier task that made one.
    ///
    /// ```
    /// use flotilla_cluster::{remote, Client};
    ///
    /// #[remote(crate = flotilla_cluster)]
    /// fn words(line: String) -> usize {
    ///     line.split_whitespace().count()
    /// }
    ///
    /// #[remote(crate = flotilla_cluster)]
    /// fn lines(n: usize) -> Vec<String> {
    ///     (0..n).map(|i| "w ".repeat(i)).collect()
    /// }
    ///
    /// fn main() -> Result<(), Box<dyn std::error::Error>> {
    ///     let client = Client::in_process(2)?;
    ///     let made = client.submit(lines::call(4))?;
    ///     // The batch is the result of an earlier task, read where it lives.
    ///     let counts = client.submit(words::BATCH.call(&made))?;
    ///     assert_eq!(counts.result()?, vec![0, 1, 2, 3]);
    ///     Ok(())
    /// }
    /// ```
    pub fn call<'a>(&self, items: impl Into<Arg<'a, Vec<A>>>) -> Call<Vec<R>>
    where
        A: 'a,
    {
        Call::new(self.name).arg(items.into())
    }
}

/// A task not submitted yet: a registered function and its arguments
/// (values already encoded, or futures of earlier tasks). `f::call(..)`
/// makes one; [`Client::submit`](crate::Client::submit) runs it.
///
/// ```
/// use flotilla_cluster::{remote, Call, Client};
///
/// #[remote(crate = flotilla_cluster)]
/// fn add(a: i64, b: i64) -> i64 {
///     a + b
/// }
///
/// fn main() -> Result<(), Box<dyn std::error::Error>> {
///     // Nothing runs yet: a call is a description of a task.
///     let task: Call<i64> = add::call(1, 2).retries(1);
///     let client = Client::in_process(2)?;
///     assert_eq!(client.submit(task)?.result()?, 3);
///     Ok(())
/// }
/// ```
pub struct Call<R> {
    pub(crate) function: &'static str,
    pub(crate) args: Vec<ClientArg>,
    /// An argument that could not be encoded (reported at submission).
    pub(crate) error: Option<String>,
    pub(crate) retries: u32,
    pub(crate) resources: Vec<(String, u64)>,
    /// Files the task reads (absolute), for input locality.
    pub(crate) reads: Vec<String>,
    /// Where its result is kept across runs, and its function's version.
    pub(crate) checkpoint: Option<crate::Checkpoint>,
    pub(crate) version: String,
    /// A checkpoint key given whole ([`Call::checkpoint_as`]).
    pub(crate) given_key: Option<String>,
    /// The checkpoint key of the task behind each future argument.
    pub(crate) input_keys: Vec<(u64, Option<Arc<str>>)>,
    /// Arguments that name another node of a [`CallGraph`](crate::CallGraph):
    /// (argument index, key).
    pub(crate) keys: Vec<(usize, String)>,
    /// The futures passed as arguments, alive until the call is submitted.
    pub(crate) holds: Vec<Arc<dyn Send + Sync>>,
    _result: PhantomData<fn() -> R>,
}

impl<R> fmt::Debug for Call<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Call")
            .field("function", &self.function)
            .field("args", &self.args.len())
            .finish()
    }
}

impl<R> Call<R> {
    /// A task of the function registered as `function`, with no arguments
    /// yet. `f::call(..)` of `#[remote]` starts with this.
    ///
    /// ```
    /// use flotilla_cluster::Call;
    ///
    /// let task: Call<i64> = Call::new("my_crate::add");
    /// assert_eq!(format!("{task:?}"), r#"Call { function: "my_crate::add", args: 0 }"#);
    /// ```
    #[doc(hidden)]
    pub fn new(function: &'static str) -> Call<R> {
        Call {
            function,
            args: Vec::new(),
            error: None,
            retries: 0,
            resources: Vec::new(),
            reads: Vec::new(),
            checkpoint: None,
            version: String::new(),
            given_key: None,
            input_keys: Vec::new(),
            keys: Vec::new(),
            holds: Vec::new(),
            _result: PhantomData,
        }
    }

    /// Adds the next argument. `f::call(..)` of `#[remote]` adds each of its
    /// arguments with this, after checking its type.
    ///
    /// ```
    /// use flotilla_cluster::{Arg, Call};
    ///
    /// let task: Call<i64> = Call::new("my_crate::add")
    ///     .arg(Arg::from(1i64))
    ///     .arg(Arg::by_ref(&2i64));
    /// assert_eq!(format!("{task:?}"), r#"Call { function: "my_crate::add", args: 2 }"#);
    /// ```
    #[doc(hidden)]
    pub fn arg<T: Serialize>(mut self, arg: Arg<'_, T>) -> Call<R> {
        match arg.0 {
            ArgInner::Value(v) => match postcard::to_stdvec(v) {
                Ok(bytes) => self.args.push(ClientArg::Value(bytes)),
                Err(e) => {
                    let n = self.args.len();
                    self.error
                        .get_or_insert_with(|| format!("argument {n} does not encode: {e}"));
                    self.args.push(ClientArg::Value(Vec::new()));
                }
            },
            ArgInner::Owned(v) => match postcard::to_stdvec(&v) {
                Ok(bytes) => self.args.push(ClientArg::Value(bytes)),
                Err(e) => {
                    let n = self.args.len();
                    self.error
                        .get_or_insert_with(|| format!("argument {n} does not encode: {e}"));
                    self.args.push(ClientArg::Value(Vec::new()));
                }
            },
            ArgInner::Future(id, handle, key) => {
                self.args.push(ClientArg::Future(id));
                self.holds.push(handle);
                self.input_keys.push((id, key));
            }
            ArgInner::Key(key) => {
                // Resolved when the graph is computed.
                self.keys.push((self.args.len(), key));
                self.args.push(ClientArg::Future(u64::MAX));
            }
        }
        self
    }

    /// Lets the task be retried `retries` times after an error or a panic.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU32, Ordering};
    ///
    /// use flotilla_cluster::{remote, Client};
    ///
    /// static CALLS: AtomicU32 = AtomicU32::new(0);
    ///
    /// /// Panics until it is called for the `succeed_on`-th time.
    /// #[remote(crate = flotilla_cluster)]
    /// fn flaky(succeed_on: u32) -> u32 {
    ///     let n = CALLS.fetch_add(1, Ordering::SeqCst) + 1;
    ///     assert!(n >= succeed_on, "attempt {n} fails");
    ///     n
    /// }
    ///
    /// fn main() -> Result<(), Box<dyn std::error::Error>> {
    ///     let client = Client::in_process(1)?;
    ///     // Two failures, then the third attempt succeeds.
    ///     let f = client.submit(flaky::call(3).retries(2))?;
    ///     assert_eq!(f.result()?, 3);
    ///     Ok(())
    /// }
    /// ```
    pub fn retries(mut self, retries: u32) -> Call<R> {
        self.retries = retries;
        self
    }

    /// Runs the task only on a worker offering `amount` of resource `name`
    /// (`gpu`, `1`).
    ///
    /// ```
    /// use flotilla_cluster::{
    ///     remote, run_worker, Client, SchedulerOptions, SchedulerServer, WorkerOptions,
    /// };
    ///
    /// #[remote(crate = flotilla_cluster)]
    /// fn add(a: i64, b: i64) -> i64 {
    ///     a + b
    /// }
    ///
    /// fn main() -> Result<(), Box<dyn std::error::Error>> {
    ///     let scheduler =
    ///         SchedulerServer::start(SchedulerOptions::new().listen("127.0.0.1:0").token(None))?;
    ///     let addr = scheduler.addr().to_string();
    ///     // A worker, here on a thread of this process, that offers one GPU.
    ///     let options = WorkerOptions::new().threads(1).resource("gpu", 1).token(None);
    ///     let at = addr.clone();
    ///     std::thread::spawn(move || run_worker(&at, options));
    ///
    ///     let client = Client::connect_with(&addr, None)?;
    ///     let f = client.submit(add::call(1, 2).resource("gpu", 1))?;
    ///     assert_eq!(f.result()?, 3);
    ///     Ok(())
    /// }
    /// ```
    pub fn resource(mut self, name: &str, amount: u64) -> Call<R> {
        self.resources.push((name.to_string(), amount));
        self
    }

    /// The task reads the file at `path`: the scheduler places it on a
    /// worker whose own disks hold the file
    /// ([`WorkerOptions::local_data`](crate::WorkerOptions::local_data)),
    /// when one is present; otherwise, and when an idle worker steals it,
    /// it runs anywhere, so `path` must be one every worker can read. The
    /// path is made absolute (and its links resolved) here, as workers
    /// resolve their folders.
    ///
    /// ```
    /// use flotilla_cluster::{remote, LocalCluster};
    ///
    /// #[remote(crate = flotilla_cluster)]
    /// fn line_count(path: String) -> usize {
    ///     std::fs::read_to_string(path).map_or(0, |text| text.lines().count())
    /// }
    ///
    /// fn main() -> Result<(), Box<dyn std::error::Error>> {
    ///     flotilla_cluster::worker_if_asked();
    ///     let dir = std::env::temp_dir().join(format!("flotilla-reads-doc-{}", std::process::id()));
    ///     std::fs::create_dir_all(&dir)?;
    ///     let file = dir.join("part-0.txt");
    ///     std::fs::write(&file, "a\nb\n")?;
    ///     // The one worker holds the folder on its own disk.
    ///     let cluster = LocalCluster::builder().workers(1).local_data(0, &dir).start()?;
    ///     let client = cluster.client()?;
    ///     let path = file.display().to_string();
    ///     let lines = client.submit(line_count::call(path).reads(&file))?;
    ///     assert_eq!(lines.result()?, 2);
    ///     std::fs::remove_dir_all(&dir)?;
    ///     Ok(())
    /// }
    /// ```
    pub fn reads(mut self, path: impl AsRef<std::path::Path>) -> Call<R> {
        self.reads.push(resolved_path(path.as_ref()));
        self
    }

    /// Keeps the task's result in `checkpoint`, under a key made of the
    /// function, its [version](Call::version) and the arguments (a future's
    /// by the key of its own checkpointed task): submitted again with the
    /// same key — in this run or a later one — the result is read from the
    /// folder and the function does not run. Every future passed to a
    /// checkpointed call must come from a checkpointed call (or the
    /// submission fails, saying which argument).
    ///
    /// ```
    /// use flotilla_cluster::{remote, Checkpoint, Client};
    ///
    /// #[remote(crate = flotilla_cluster)]
    /// fn add(a: i64, b: i64) -> i64 {
    ///     a + b
    /// }
    ///
    /// fn main() -> Result<(), Box<dyn std::error::Error>> {
    ///     let dir = std::env::temp_dir().join(format!("flotilla-ckpt-call-{}", std::process::id()));
    ///     let checkpoint = Checkpoint::open(&dir)?;
    ///     let client = Client::in_process(1)?;
    ///     let x = client.submit(add::call(1, 2).checkpoint(&checkpoint))?;
    ///     let y = client.submit(add::call(&x, 10).checkpoint(&checkpoint))?;
    ///     assert_eq!(y.result()?, 13);
    ///     // The same calls again: both read from the folder.
    ///     let x = client.submit(add::call(1, 2).checkpoint(&checkpoint))?;
    ///     let y = client.submit(add::call(&x, 10).checkpoint(&checkpoint))?;
    ///     assert_eq!(y.result()?, 13);
    ///     assert_eq!((checkpoint.computed(), checkpoint.loaded()), (2, 2));
    ///     // A future of a call that is not checkpointed cannot be named.
    ///     let z = client.submit(add::call(5, 5))?;
    ///     let err = client.submit(add::call(&z, 1).checkpoint(&checkpoint)).unwrap_err();
    ///     assert!(err.to_string().contains("argument 0"), "{err}");
    ///     std::fs::remove_dir_all(&dir)?;
    ///     Ok(())
    /// }
    /// ```
    pub fn checkpoint(mut self, checkpoint: &crate::Checkpoint) -> Call<R> {
        self.checkpoint = Some(checkpoint.clone());
        self
    }

    /// Keeps the task's result in `checkpoint` under `key`, given whole by
    /// the caller instead of made from the function and the arguments: for
    /// a library whose calls take futures of tasks that are not
    /// checkpointed (a shuffle's pieces, say) but that can name what the
    /// result depends on itself (a hash of it, as
    /// [`KeyHasher`](flotilla_local::checkpoint::KeyHasher) makes). The key
    /// names the result's file (`KEY.result`): 1 to 200 ASCII letters,
    /// digits, `-` and `_`, else the submission fails. It must change
    /// whenever the result would; found in the folder, the result is read
    /// back and the function does not run.
    ///
    /// ```
    /// use flotilla_cluster::{remote, Checkpoint, Client};
    ///
    /// #[remote(crate = flotilla_cluster)]
    /// fn add(a: i64, b: i64) -> i64 {
    ///     a + b
    /// }
    ///
    /// fn main() -> Result<(), Box<dyn std::error::Error>> {
    ///     let dir = std::env::temp_dir().join(format!("flotilla-ckpt-as-{}", std::process::id()));
    ///     let checkpoint = Checkpoint::open(&dir)?;
    ///     let client = Client::in_process(1)?;
    ///     let z = client.submit(add::call(5, 5))?; // not checkpointed
    ///     for _ in 0..2 {
    ///         let y = client.submit(add::call(&z, 1).checkpoint_as(&checkpoint, "ten-plus-one"))?;
    ///         assert_eq!(y.result()?, 11);
    ///     }
    ///     assert_eq!((checkpoint.computed(), checkpoint.loaded()), (1, 1));
    ///     assert!(checkpoint.contains("ten-plus-one"));
    ///     let bad = client.submit(add::call(&z, 1).checkpoint_as(&checkpoint, "../x"));
    ///     assert!(bad.unwrap_err().to_string().contains("names a file"));
    ///     std::fs::remove_dir_all(&dir)?;
    ///     Ok(())
    /// }
    /// ```
    pub fn checkpoint_as(mut self, checkpoint: &crate::Checkpoint, key: &str) -> Call<R> {
        self.checkpoint = Some(checkpoint.clone());
        self.given_key = Some(key.to_string());
        self
    }

    /// The version of the function, part of a [checkpointed](Call::checkpoint)
    /// task's key (default empty): change it when the function changes, and
    /// the results kept of the old one are computed again, with everything
    /// downstream of them.
    ///
    /// ```
    /// use flotilla_cluster::Call;
    /// let _task: Call<u64> = Call::new("my_crate::render").version("2");
    /// ```
    pub fn version(mut self, version: &str) -> Call<R> {
        self.version = version.to_string();
        self
    }
}

/// `path` made absolute with its links resolved where it exists, as
/// a worker resolves its local folders, so that the two compare.
pub(crate) fn resolved_path(path: &std::path::Path) -> String {
    std::fs::canonicalize(path)
        .or_else(|_| std::path::absolute(path))
        .unwrap_or_else(|_| path.to_path_buf())
        .to_string_lossy()
        .into_owned()
}

/// One argument of a [`Call`]: a value, or the future of an earlier task
/// whose result it is (the task then waits for that one, and reads its
/// result where it lives).
///
/// ```
/// use flotilla_cluster::{remote, Arg, Client};
///
/// #[remote(crate = flotilla_cluster)]
/// fn total(parts: Vec<i64>) -> i64 {
///     parts.iter().sum()
/// }
///
/// #[remote(crate = flotilla_cluster)]
/// fn add(a: i64, b: i64) -> i64 {
///     a + b
/// }
///
/// fn main() -> Result<(), Box<dyn std::error::Error>> {
///     let client = Client::in_process(2)?;
///     let mine = vec![1i64, 2, 3];
///     let a = client.submit(total::call(vec![10i64]))?; // a value, moved
///     let b = client.submit(total::call(Arg::by_ref(&mine)))?; // a value, borrowed
///     let c = client.submit(add::call(&a, &b))?; // the futures of earlier tasks
///     assert_eq!(c.result()?, 16);
///     Ok(())
/// }
/// ```
pub struct Arg<'a, T>(ArgInner<'a, T>);

enum ArgInner<'a, T> {
    Value(&'a T),
    Owned(T),
    /// A future's task, and its handle: held by the call until it is
    /// submitted, so that a future dropped right after it was passed is
    /// not released before the task that takes it is submitted.
    Future(u64, Arc<dyn Send + Sync>, Option<Arc<str>>),
    Key(String),
}

impl<T> fmt::Debug for Arg<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            ArgInner::Value(_) | ArgInner::Owned(_) => f.write_str("Arg(value)"),
            ArgInner::Future(id, ..) => write!(f, "Arg(future {id})"),
            ArgInner::Key(key) => write!(f, "Arg(key {key:?})"),
        }
    }
}

impl<T> From<T> for Arg<'_, T> {
    fn from(value: T) -> Self {
        Arg(ArgInner::Owned(value))
    }
}

impl<'a, T> From<&'a ClusterFuture<T>> for Arg<'a, T> {
    fn from(future: &'a ClusterFuture<T>) -> Self {
        Arg(ArgInner::Future(
            future.id(),
            future.keep_alive(),
            future.checkpoint_key(),
        ))
    }
}

impl<'a, T> Arg<'a, T> {
    /// The result of the node of this key in the same [`CallGraph`](crate::CallGraph).
    ///
    /// ```
    /// use flotilla_cluster::{remote, Arg, CallGraph};
    ///
    /// #[remote(crate = flotilla_cluster)]
    /// fn add(a: i64, b: i64) -> i64 { a + b }
    ///
    /// fn main() {
    ///     let mut g = CallGraph::new();
    ///     g.add("x", add::call(1, 2)).unwrap();
    ///     g.add("y", add::call(Arg::key("x"), 10)).unwrap();
    ///     assert_eq!(g.len(), 2);
    /// }
    /// ```
    pub fn key(key: &str) -> Arg<'static, T> {
        Arg(ArgInner::Key(key.to_string()))
    }

    /// An argument encoded from a reference, without moving the value.
    ///
    /// ```
    /// use flotilla_cluster::{remote, Arg, Client};
    ///
    /// #[remote(crate = flotilla_cluster)]
    /// fn count(bytes: Vec<u8>) -> usize {
    ///     bytes.len()
    /// }
    ///
    /// fn main() -> Result<(), Box<dyn std::error::Error>> {
    ///     let client = Client::in_process(2)?;
    ///     let big = vec![7u8; 1 << 16];
    ///     let n = client.submit(count::call(Arg::by_ref(&big)))?;
    ///     assert_eq!(n.result()?, 1 << 16);
    ///     assert_eq!(big.len(), 1 << 16, "still ours");
    ///     Ok(())
    /// }
    /// ```
    pub fn by_ref(value: &'a T) -> Self {
        Arg(ArgInner::Value(value))
    }
}

/// Decodes argument `index` of `function` (used by `#[remote]`).
///
/// ```
/// use flotilla_cluster::__private::{decode_arg, encode_result};
///
/// let bytes = encode_result(&42u32, "my_crate::f").unwrap();
/// assert_eq!(decode_arg::<u32>(&bytes, 0, "my_crate::f"), Ok(42));
/// let err = decode_arg::<String>(&[], 1, "my_crate::f").unwrap_err();
/// assert!(err.starts_with("argument 1 of my_crate::f does not decode"), "{err}");
/// ```
#[doc(hidden)]
pub fn decode_arg<T: DeserializeOwned>(
    bytes: &[u8],
    index: usize,
    function: &str,
) -> Result<T, String> {
    postcard::from_bytes(bytes).map_err(|e| {
        format!(
            "argument {index} of {function} does not decode as {}: {e}",
            std::any::type_name::<T>()
        )
    })
}

/// Encodes the result of `function` (used by `#[remote]`).
///
/// ```
/// use flotilla_cluster::__private::encode_result;
///
/// let bytes = encode_result(&(1u8, 2u8), "my_crate::pair").unwrap();
/// assert_eq!(bytes, [1, 2]);
/// ```
#[doc(hidden)]
pub fn encode_result<T: Serialize>(value: &T, function: &str) -> Result<Vec<u8>, String> {
    postcard::to_stdvec(value).map_err(|e| format!("the result of {function} does not encode: {e}"))
}

/// Checks the argument count (used by `#[remote]`).
///
/// ```
/// use flotilla_cluster::__private::check_arity;
///
/// assert_eq!(check_arity(&[b"x", b"y"], 2, "my_crate::add"), Ok(()));
/// assert_eq!(
///     check_arity(&[b"x"], 2, "my_crate::add"),
///     Err("my_crate::add takes 2 arguments, the task gave 1".to_string())
/// );
/// ```
#[doc(hidden)]
pub fn check_arity(args: &[&[u8]], expected: usize, function: &str) -> Result<(), String> {
    if args.len() == expected {
        Ok(())
    } else {
        Err(format!(
            "{function} takes {expected} arguments, the task gave {}",
            args.len()
        ))
    }
}
