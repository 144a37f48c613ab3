//! [`SmallBytes`]: a byte-string key that keeps short values inline.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};

use serde::de::{self, Deserialize, Deserializer, SeqAccess, Visitor};
use serde::{Serialize, Serializer};

use super::sort::ApproxSize;

const INLINE: usize = 22;

/// A byte string stored inline when it is at most 22 bytes long (most words,
/// ids and codes), on the heap otherwise — a good key for text jobs: making
/// one from a short word allocates nothing, and a hash table of them keeps
/// the bytes next to the slot, so a lookup touches one cache line.
///
/// It compares, hashes and orders exactly like the `&[u8]` it holds.
///
/// ```
/// use flotilla::mapreduce::SmallBytes;
/// let w = SmallBytes::from(&b"hello"[..]);
/// assert_eq!(w.as_bytes(), b"hello");
/// assert!(w.is_inline());
/// assert!(!SmallBytes::from(&[b'x'; 40][..]).is_inline());
/// assert!(SmallBytes::from(&b"a"[..]) < SmallBytes::from(&b"b"[..]));
/// ```
#[derive(Clone)]
pub struct SmallBytes(Repr);

#[derive(Clone)]
enum Repr {
    Inline { len: u8, data: [u8; INLINE] },
    Heap(Box<[u8]>),
}

impl SmallBytes {
    /// The bytes.
    ///
    /// ```
    /// assert_eq!(flotilla::mapreduce::SmallBytes::from(&b"ab"[..]).as_bytes(), b"ab");
    /// ```
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline { len, data } => &data[..usize::from(*len)],
            Repr::Heap(b) => b,
        }
    }

    /// Whether the bytes are stored inline.
    ///
    /// ```
    /// assert!(flotilla::mapreduce::SmallBytes::from(&b""[..]).is_inline());
    /// ```
    pub fn is_inline(&self) -> bool {
        matches!(self.0, Repr::Inline { .. })
    }
}

impl From<&[u8]> for SmallBytes {
    #[inline]
    fn from(b: &[u8]) -> SmallBytes {
        if b.len() <= INLINE {
            let data = inline_copy(b);
            SmallBytes(Repr::Inline {
                len: b.len() as u8,
                data,
            })
        } else {
            SmallBytes(Repr::Heap(b.into()))
        }
    }
}

/// `b` (at most [`INLINE`] bytes) zero-padded, copied as two fixed-size
/// pieces that may overlap instead of a call to `memcpy`: cheaper for the
/// short words of text jobs, and the hash that reads the key right after
/// ([`super::KeyHasher`]) loads exactly what these stores wrote.
#[inline]
fn inline_copy(b: &[u8]) -> [u8; INLINE] {
    fn piece<const N: usize>(data: &mut [u8; INLINE], b: &[u8]) {
        let len = b.len();
        data[..N].copy_from_slice(&b[..N]);
        data[len - N..len].copy_from_slice(&b[len - N..]);
    }
    let mut data = [0u8; INLINE];
    match b.len() {
        0 => {}
        len @ 1..=3 => {
            data[0] = b[0];
            data[len / 2] = b[len / 2];
            data[len - 1] = b[len - 1];
        }
        4..=7 => piece::<4>(&mut data, b),
        8..=15 => piece::<8>(&mut data, b),
        _ => piece::<16>(&mut data, b),
    }
    data
}

impl From<&str> for SmallBytes {
    fn from(s: &str) -> SmallBytes {
        SmallBytes::from(s.as_bytes())
    }
}

impl Borrow<[u8]> for SmallBytes {
    fn borrow(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl PartialEq for SmallBytes {
    #[inline]
    fn eq(&self, other: &SmallBytes) -> bool {
        match (&self.0, &other.0) {
            // Inline bytes are zero-padded, so whole arrays compare exactly
            // (a few word compares, no call to memcmp).
            (Repr::Inline { len: a, data: x }, Repr::Inline { len: b, data: y }) => {
                a == b && x == y
            }
            _ => self.as_bytes() == other.as_bytes(),
        }
    }
}

impl Eq for SmallBytes {}

impl PartialOrd for SmallBytes {
    fn partial_cmp(&self, other: &SmallBytes) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for SmallBytes {
    #[inline]
    fn cmp(&self, other: &SmallBytes) -> Ordering {
        self.as_bytes().cmp(other.as_bytes())
    }
}

impl Hash for SmallBytes {
    #[inline]
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state);
    }
}

impl fmt::Debug for SmallBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self.as_bytes()))
    }
}

impl fmt::Display for SmallBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(self.as_bytes()))
    }
}

impl ApproxSize for SmallBytes {
    fn approx_size(&self) -> usize {
        std::mem::size_of::<SmallBytes>()
            + match &self.0 {
                Repr::Inline { .. } => 0,
                Repr::Heap(b) => b.len(),
            }
    }
}

impl Serialize for SmallBytes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(self.as_bytes())
    }
}

impl<'de> Deserialize<'de> for SmallBytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<SmallBytes, D::Error> {
        struct BytesVisitor;
        impl<'de> Visitor<'de> for BytesVisitor {
            type Value = SmallBytes;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a byte string")
            }
            fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<SmallBytes, E> {
                Ok(SmallBytes::from(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<SmallBytes, E> {
                Ok(SmallBytes::from(v))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<SmallBytes, A::Error> {
                let mut v = Vec::new();
                while let Some(b) = seq.next_element::<u8>()? {
                    v.push(b);
                }
                Ok(SmallBytes::from(&v[..]))
            }
        }
        d.deserialize_bytes(BytesVisitor)
    }
}

#[cfg(test)]
mod test {
    use super::SmallBytes;
    use std::hash::{BuildHasher, RandomState};

    #[test]
    fn behaves_like_its_bytes() {
        let s = RandomState::new();
        for w in [
            &b""[..],
            b"a",
            b"exactly-twenty-two-by",
            &[7u8; 23],
            &[0u8; 100],
        ] {
            let k = SmallBytes::from(w);
            assert_eq!(k.as_bytes(), w);
            assert_eq!(s.hash_one(&k), s.hash_one(w));
            let back: SmallBytes = postcard::from_bytes(&postcard::to_stdvec(&k).unwrap()).unwrap();
            assert_eq!(back, k);
        }
        assert_eq!(std::mem::size_of::<SmallBytes>(), 24);
    }

    #[test]
    fn every_inline_length_keeps_every_byte_and_pads_with_zeros() {
        let source: Vec<u8> = (1..=30).collect();
        for len in 0..=super::INLINE {
            let k = SmallBytes::from(&source[..len]);
            assert_eq!(k.as_bytes(), &source[..len], "length {len}");
            let data = super::inline_copy(&source[..len]);
            assert!(data[len..].iter().all(|&b| b == 0), "length {len}");
            // Equal inline keys compare as whole arrays: padding must agree.
            assert_eq!(k, SmallBytes::from(source[..len].to_vec().as_slice()));
        }
    }

    #[test]
    fn key_hasher_tells_apart_short_keys_of_every_length() {
        use crate::mapreduce::KeyHasher;
        use std::hash::BuildHasherDefault;
        let s = BuildHasherDefault::<KeyHasher>::default();
        let mut seen = std::collections::HashSet::new();
        let source: Vec<u8> = (1..=40).collect();
        for len in 0..=40 {
            for start in 0..=(40 - len) {
                seen.insert(s.hash_one(&source[start..start + len]));
            }
        }
        // Every distinct slice hashes differently (the 41 empty ones are one).
        assert_eq!(seen.len(), 1 + (1..=40).map(|len| 41 - len).sum::<usize>());
        // Zero bytes still count: "" / "\0" / "\0\0" differ.
        let zeros: std::collections::HashSet<u64> =
            (0..12).map(|n| s.hash_one(&vec![0u8; n][..])).collect();
        assert_eq!(zeros.len(), 12);
    }
}
