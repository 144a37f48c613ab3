//! [`ApproxSize`]: how many bytes a key or value is estimated to occupy.

use std::mem::size_of;

/// An estimate of the memory a value occupies, in bytes.
///
/// The estimate is the value's inline size (`size_of_val(self)`) plus the heap
/// bytes it owns: a `String` counts its 24-byte header and its capacity, a
/// `Vec<T>` its header, its capacity times `size_of::<T>()` and the heap bytes
/// of each element. It is what a [`SortBuffer`](super::SortBuffer) charges
/// against its memory budget for each record, together with
/// [`RECORD_OVERHEAD`](super::RECORD_OVERHEAD).
///
/// The estimate does not need to be exact, only cheap and proportional to the
/// real footprint: it decides when a buffer spills, and it is what the peak
/// reported in [`SortStats`](super::SortStats) measures.
///
/// ```
/// use flotilla_data::sort::ApproxSize;
///
/// assert_eq!(7u64.approx_size(), 8);
/// assert_eq!(String::from("hello").approx_size(), 24 + 5);
/// assert_eq!(vec![1u32, 2, 3].approx_size(), 24 + 3 * 4);
/// assert_eq!((1u8, 2u64).approx_size(), 16);
/// ```
pub trait ApproxSize {
    /// `Some(n)` when every value of the type occupies exactly `n` bytes and
    /// owns no heap memory (integers, floats, `bool`, `char`, `()` and tuples
    /// of them). Containers use it to measure themselves in constant time
    /// instead of visiting every element; the default, `None`, is always
    /// correct.
    ///
    /// ```
    /// use flotilla_data::sort::ApproxSize;
    ///
    /// assert_eq!(<u32 as ApproxSize>::FIXED_SIZE, Some(4));
    /// assert_eq!(<String as ApproxSize>::FIXED_SIZE, None);
    /// ```
    const FIXED_SIZE: Option<usize> = None;

    /// The estimated number of bytes `self` occupies: inline size plus owned
    /// heap bytes.
    ///
    /// ```
    /// use flotilla_data::sort::ApproxSize;
    ///
    /// let word = String::with_capacity(100);
    /// assert_eq!(word.approx_size(), 24 + 100);
    /// ```
    fn approx_size(&self) -> usize;
}

/// The heap part of an estimate: what `value` owns beyond its inline bytes.
fn heap_bytes<T: ApproxSize>(value: &T) -> usize {
    value.approx_size().saturating_sub(size_of::<T>())
}

macro_rules! fixed_size {
    ($($t:ty),* $(,)?) => {$(
        impl ApproxSize for $t {
            const FIXED_SIZE: Option<usize> = Some(size_of::<$t>());

            #[inline]
            fn approx_size(&self) -> usize {
                size_of::<$t>()
            }
        }
    )*};
}

fixed_size!(
    u8,
    u16,
    u32,
    u64,
    u128,
    usize,
    i8,
    i16,
    i32,
    i64,
    i128,
    isize,
    f32,
    f64,
    bool,
    char,
    ()
);

impl ApproxSize for String {
    #[inline]
    fn approx_size(&self) -> usize {
        size_of::<String>() + self.capacity()
    }
}

impl ApproxSize for Box<str> {
    #[inline]
    fn approx_size(&self) -> usize {
        size_of::<Box<str>>() + self.len()
    }
}

impl ApproxSize for Box<[u8]> {
    #[inline]
    fn approx_size(&self) -> usize {
        size_of::<Box<[u8]>>() + self.len()
    }
}

/// `Vec<u8>` is covered by this impl and measured in constant time, because
/// `u8` has a [`FIXED_SIZE`](ApproxSize::FIXED_SIZE).
impl<T: ApproxSize> ApproxSize for Vec<T> {
    #[inline]
    fn approx_size(&self) -> usize {
        let slots = size_of::<Vec<T>>() + self.capacity() * size_of::<T>();
        match T::FIXED_SIZE {
            Some(_) => slots,
            None => slots + self.iter().map(heap_bytes).sum::<usize>(),
        }
    }
}

impl<T: ApproxSize> ApproxSize for Option<T> {
    const FIXED_SIZE: Option<usize> = match T::FIXED_SIZE {
        Some(_) => Some(size_of::<Option<T>>()),
        None => None,
    };

    #[inline]
    fn approx_size(&self) -> usize {
        size_of::<Option<T>>() + self.as_ref().map_or(0, heap_bytes)
    }
}

macro_rules! tuple_size {
    ($(($($name:ident : $t:ident),+)),* $(,)?) => {$(
        impl<$($t: ApproxSize),+> ApproxSize for ($($t,)+) {
            const FIXED_SIZE: Option<usize> = {
                let all_fixed = $($t::FIXED_SIZE.is_some() &&)+ true;
                if all_fixed { Some(size_of::<($($t,)+)>()) } else { None }
            };

            #[inline]
            fn approx_size(&self) -> usize {
                let ($($name,)+) = self;
                size_of::<($($t,)+)>() $(+ heap_bytes($name))+
            }
        }
    )*};
}

tuple_size!((a: A), (a: A, b: B), (a: A, b: B, c: C), (a: A, b: B, c: C, d: D));
