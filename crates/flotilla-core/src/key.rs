//! Task keys: the names users and error messages see.

use std::fmt;
use std::sync::Arc;

/// The name of a task: a group name, optionally with an index inside the
/// group, like Dask's `("sum", 3)` keys.
///
/// A key is two words of shared group name plus an index, so a million tasks
/// of one group (`"leaf"[0]` … `"leaf"[999999]`) share one string: cloning a
/// key never copies the name.
///
/// ```
/// use flotilla_core::TaskKey;
/// let k = TaskKey::indexed("leaf", 12);
/// assert_eq!(k.to_string(), "leaf[12]");
/// assert_eq!(k.group(), "leaf");
/// assert_eq!(TaskKey::new("root").to_string(), "root");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaskKey {
    group: Arc<str>,
    index: Option<u64>,
}

impl TaskKey {
    /// A key made of a name alone.
    ///
    /// ```
    /// assert_eq!(flotilla_core::TaskKey::new("load").index(), None);
    /// ```
    pub fn new(name: impl Into<Arc<str>>) -> TaskKey {
        TaskKey {
            group: name.into(),
            index: None,
        }
    }

    /// A key made of a group name and an index in it.
    ///
    /// ```
    /// assert_eq!(flotilla_core::TaskKey::indexed("map", 4).index(), Some(4));
    /// ```
    pub fn indexed(group: impl Into<Arc<str>>, index: u64) -> TaskKey {
        TaskKey {
            group: group.into(),
            index: Some(index),
        }
    }

    /// A key in an existing group: shares the group's name string.
    ///
    /// ```
    /// use flotilla_core::TaskKey;
    /// let a = TaskKey::indexed("part", 0);
    /// let b = a.sibling(1);
    /// assert_eq!(b.to_string(), "part[1]");
    /// ```
    pub fn sibling(&self, index: u64) -> TaskKey {
        TaskKey {
            group: Arc::clone(&self.group),
            index: Some(index),
        }
    }

    /// The group name (the whole name for a key without index).
    ///
    /// ```
    /// assert_eq!(flotilla_core::TaskKey::indexed("x", 1).group(), "x");
    /// ```
    pub fn group(&self) -> &str {
        &self.group
    }

    /// The kind of task: the group name up to its first `#`. Generated
    /// keys carry a suffix after `#` when two operations of one name meet
    /// in one graph (`map`, `map#2`); both are of kind `map`. The scheduler
    /// learns task durations per kind.
    ///
    /// ```
    /// use flotilla_core::TaskKey;
    /// assert_eq!(TaskKey::indexed("map#2", 7).kind(), "map");
    /// assert_eq!(TaskKey::new("load").kind(), "load");
    /// ```
    pub fn kind(&self) -> &str {
        match self.group.find('#') {
            Some(i) => &self.group[..i],
            None => &self.group,
        }
    }

    /// Whether `other` shares this key's group name string (not merely an
    /// equal name): keys made with [`TaskKey::sibling`] do.
    ///
    /// ```
    /// use flotilla_core::TaskKey;
    /// let a = TaskKey::indexed("part", 0);
    /// assert!(a.same_group(&a.sibling(1)));
    /// assert!(!a.same_group(&TaskKey::indexed("part", 1)));
    /// ```
    pub fn same_group(&self, other: &TaskKey) -> bool {
        Arc::ptr_eq(&self.group, &other.group)
    }

    /// The index inside the group, if any.
    ///
    /// ```
    /// assert_eq!(flotilla_core::TaskKey::indexed("x", 1).index(), Some(1));
    /// ```
    pub fn index(&self) -> Option<u64> {
        self.index
    }
}

impl fmt::Display for TaskKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.index {
            Some(i) => write!(f, "{}[{}]", self.group, i),
            None => f.write_str(&self.group),
        }
    }
}

/// Reads a key back from its text: `group[index]` is an indexed key,
/// anything else a plain one (the inverse of its `Display`).
///
/// ```
/// use flotilla_core::TaskKey;
/// let k: TaskKey = "map#2[7]".parse().unwrap();
/// assert_eq!(k, TaskKey::indexed("map#2", 7));
/// assert_eq!("total".parse::<TaskKey>().unwrap(), TaskKey::new("total"));
/// assert_eq!("odd[x]".parse::<TaskKey>().unwrap(), TaskKey::new("odd[x]"));
/// ```
impl std::str::FromStr for TaskKey {
    type Err = std::convert::Infallible;

    fn from_str(text: &str) -> Result<TaskKey, Self::Err> {
        let indexed = text
            .strip_suffix(']')
            .and_then(|t| t.rsplit_once('['))
            .and_then(|(group, i)| Some(TaskKey::indexed(group, i.parse().ok()?)));
        Ok(indexed.unwrap_or_else(|| TaskKey::new(text)))
    }
}

impl From<&str> for TaskKey {
    fn from(s: &str) -> TaskKey {
        TaskKey::new(s)
    }
}

impl From<String> for TaskKey {
    fn from(s: String) -> TaskKey {
        TaskKey::new(s)
    }
}
