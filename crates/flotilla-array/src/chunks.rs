//! How an array is cut into blocks: [`Chunks`], the chunking a user asks
//! for, and [`Grid`], the checked chunking an array keeps — chunk sizes and
//! offsets per axis, and the arithmetic between a block's place in the grid
//! of blocks, its origin, its shape and its elements.

use crate::ArrayError;

/// The chunking asked for: one chunk shape for the whole array (the last
/// chunk of an axis holds what is left, so it may be smaller), or explicit
/// chunk sizes per axis, as dask's `chunks=((3, 3, 4), (5, 5))`.
///
/// Most calls pass something that converts into it: a chunk shape as an
/// array, slice or vector of sizes (`[1000, 1000]`), a single size for a
/// 1-D array (`100_000`), or a vector of per-axis size lists.
///
/// A uniform size larger than its axis is cut to the axis's length; a size
/// of 0 is an error unless the axis is empty (an empty axis has no chunks).
///
/// ```
/// use flotilla_array::{Array, Chunks};
///
/// let a = Array::<f64>::zeros(&[10, 7], [4, 5]).unwrap();            // uniform, ragged last chunks
/// assert_eq!(a.chunks(), [vec![4, 4, 2], vec![5, 2]]);
/// let b = Array::<f64>::zeros(&[10, 7], vec![vec![3, 3, 4], vec![7]]).unwrap(); // per axis
/// assert_eq!(b.chunks(), [vec![3, 3, 4], vec![7]]);
/// assert_eq!(Chunks::from(1000), Chunks::Uniform(vec![1000]));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Chunks {
    /// The same chunk shape everywhere (one size per axis).
    Uniform(Vec<usize>),
    /// Explicit chunk sizes, one list per axis; each list adds up to the
    /// axis's length.
    PerAxis(Vec<Vec<usize>>),
}

impl From<usize> for Chunks {
    fn from(size: usize) -> Chunks {
        Chunks::Uniform(vec![size])
    }
}

impl<const N: usize> From<[usize; N]> for Chunks {
    fn from(shape: [usize; N]) -> Chunks {
        Chunks::Uniform(shape.to_vec())
    }
}

impl<const N: usize> From<&[usize; N]> for Chunks {
    fn from(shape: &[usize; N]) -> Chunks {
        Chunks::Uniform(shape.to_vec())
    }
}

impl From<&[usize]> for Chunks {
    fn from(shape: &[usize]) -> Chunks {
        Chunks::Uniform(shape.to_vec())
    }
}

impl From<Vec<usize>> for Chunks {
    fn from(shape: Vec<usize>) -> Chunks {
        Chunks::Uniform(shape)
    }
}

impl From<Vec<Vec<usize>>> for Chunks {
    fn from(per_axis: Vec<Vec<usize>>) -> Chunks {
        Chunks::PerAxis(per_axis)
    }
}

impl From<&[Vec<usize>]> for Chunks {
    fn from(per_axis: &[Vec<usize>]) -> Chunks {
        Chunks::PerAxis(per_axis.to_vec())
    }
}

impl<const N: usize> From<[Vec<usize>; N]> for Chunks {
    fn from(per_axis: [Vec<usize>; N]) -> Chunks {
        Chunks::PerAxis(per_axis.to_vec())
    }
}

/// A checked chunking of a shape: the sizes and starts of the chunks of
/// every axis. Blocks are numbered in row-major order of their grid
/// coordinates, as elements are in a C-ordered array.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Grid {
    shape: Vec<usize>,
    chunks: Vec<Vec<usize>>,
    /// Where each chunk of each axis starts.
    starts: Vec<Vec<usize>>,
}

impl Grid {
    /// Checks `chunks` against `shape`.
    pub(crate) fn new(shape: &[usize], chunks: &Chunks) -> Result<Grid, ArrayError> {
        let ndim = shape.len();
        shape
            .iter()
            .try_fold(1usize, |n, &d| n.checked_mul(d))
            .ok_or_else(|| ArrayError::TooLarge {
                shape: shape.to_vec(),
            })?;
        let per_axis = match chunks {
            Chunks::Uniform(sizes) => {
                if sizes.len() != ndim {
                    return Err(ArrayError::ChunkRank {
                        ndim,
                        found: sizes.len(),
                    });
                }
                let mut per_axis = Vec::with_capacity(ndim);
                for (axis, (&len, &size)) in shape.iter().zip(sizes).enumerate() {
                    if len == 0 {
                        per_axis.push(Vec::new());
                        continue;
                    }
                    if size == 0 {
                        return Err(ArrayError::ZeroChunk { axis });
                    }
                    let size = size.min(len);
                    let mut axis_chunks = vec![size; len / size];
                    if len % size != 0 {
                        axis_chunks.push(len % size);
                    }
                    per_axis.push(axis_chunks);
                }
                per_axis
            }
            Chunks::PerAxis(lists) => {
                if lists.len() != ndim {
                    return Err(ArrayError::ChunkRank {
                        ndim,
                        found: lists.len(),
                    });
                }
                for (axis, (&len, list)) in shape.iter().zip(lists).enumerate() {
                    if list.contains(&0) {
                        return Err(ArrayError::ZeroChunk { axis });
                    }
                    let sum = list.iter().try_fold(0usize, |s, &c| s.checked_add(c));
                    if sum != Some(len) {
                        return Err(ArrayError::ChunkSum {
                            axis,
                            sum: sum.unwrap_or(usize::MAX),
                            len,
                        });
                    }
                }
                lists.clone()
            }
        };
        Ok(Grid::from_checked(shape.to_vec(), per_axis))
    }

    /// A grid from chunk sizes known to fit the shape.
    pub(crate) fn from_checked(shape: Vec<usize>, chunks: Vec<Vec<usize>>) -> Grid {
        let starts = chunks
            .iter()
            .map(|sizes| {
                sizes
                    .iter()
                    .scan(0usize, |at, &c| {
                        let start = *at;
                        *at += c;
                        Some(start)
                    })
                    .collect()
            })
            .collect();
        Grid {
            shape,
            chunks,
            starts,
        }
    }

    /// The array's shape.
    pub(crate) fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The number of axes.
    pub(crate) fn ndim(&self) -> usize {
        self.shape.len()
    }

    /// The chunk sizes of every axis.
    pub(crate) fn chunks(&self) -> &[Vec<usize>] {
        &self.chunks
    }

    /// The starts of the chunks of every axis.
    pub(crate) fn starts(&self) -> &[Vec<usize>] {
        &self.starts
    }

    /// The number of chunks along each axis.
    pub(crate) fn counts(&self) -> Vec<usize> {
        self.chunks.iter().map(Vec::len).collect()
    }

    /// The number of blocks.
    pub(crate) fn num_blocks(&self) -> usize {
        self.chunks.iter().map(Vec::len).product()
    }

    /// The grid coordinates of block `index`.
    pub(crate) fn coords(&self, index: usize) -> Vec<usize> {
        let mut coords = vec![0; self.ndim()];
        let mut rest = index;
        for axis in (0..self.ndim()).rev() {
            let n = self.chunks[axis].len().max(1);
            coords[axis] = rest % n;
            rest /= n;
        }
        coords
    }

    /// The number of block `coords` (row-major in the grid).
    pub(crate) fn index(&self, coords: &[usize]) -> usize {
        coords
            .iter()
            .zip(&self.chunks)
            .fold(0, |i, (&c, sizes)| i * sizes.len() + c)
    }

    /// The shape of block `coords`.
    pub(crate) fn block_shape(&self, coords: &[usize]) -> Vec<usize> {
        coords
            .iter()
            .zip(&self.chunks)
            .map(|(&c, sizes)| sizes[c])
            .collect()
    }

    /// Where block `coords` starts in the array.
    pub(crate) fn block_origin(&self, coords: &[usize]) -> Vec<usize> {
        coords
            .iter()
            .zip(&self.starts)
            .map(|(&c, starts)| starts[c])
            .collect()
    }

    /// The position of block `coords` in the array: what a kernel needs to
    /// know which elements it makes.
    pub(crate) fn place(&self, coords: &[usize]) -> Place {
        Place::new(
            self.block_origin(coords),
            self.block_shape(coords),
            &self.shape,
        )
    }

    /// The grid with `axis` taken out (the grid of an axis reduction).
    pub(crate) fn without_axis(&self, axis: usize) -> Grid {
        let mut shape = self.shape.clone();
        let mut chunks = self.chunks.clone();
        shape.remove(axis);
        chunks.remove(axis);
        // The other axes keep their chunks; an empty reduced axis leaves
        // the others' chunks as they are.
        Grid::from_checked(shape, chunks)
    }
}

/// The row-major strides of `shape`, in elements.
pub(crate) fn strides(shape: &[usize]) -> Vec<usize> {
    let mut strides = vec![1; shape.len()];
    for axis in (0..shape.len().saturating_sub(1)).rev() {
        strides[axis] = strides[axis + 1] * shape[axis + 1];
    }
    strides
}

/// The length of the rows of a block of `shape`: its last axis (1 for a
/// 0-D block). Kernels make a block's elements in runs that never cross a
/// row, so that a run is contiguous in the array as well as in the block.
pub(crate) fn row_len(shape: &[usize]) -> usize {
    shape.last().copied().unwrap_or(1)
}

/// Where a block lies in its array: its origin, its shape, and the array's
/// strides, to turn an offset inside the block into a flat index in the
/// array.
#[derive(Debug, Clone)]
pub(crate) struct Place {
    pub(crate) origin: Vec<usize>,
    pub(crate) shape: Vec<usize>,
    array_strides: Vec<usize>,
}

impl Place {
    pub(crate) fn new(origin: Vec<usize>, shape: Vec<usize>, array_shape: &[usize]) -> Place {
        Place {
            origin,
            shape,
            array_strides: strides(array_shape),
        }
    }

    /// The number of elements of the block.
    pub(crate) fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// The block coordinates (inside the block) of the row that holds
    /// offset `offset`, and the column of the offset in that row.
    pub(crate) fn row_coords(&self, offset: usize, coords: &mut [usize]) -> usize {
        let row_len = row_len(&self.shape);
        let mut row = offset / row_len.max(1);
        let ndim = self.shape.len();
        if ndim > 0 {
            coords[ndim - 1] = offset % row_len.max(1);
            for axis in (0..ndim - 1).rev() {
                coords[axis] = row % self.shape[axis];
                row /= self.shape[axis];
            }
            coords[ndim - 1]
        } else {
            0
        }
    }

    /// The flat (row-major) index in the whole array of the element at
    /// offset `offset` of the block. The elements of a run inside one row
    /// have consecutive indices.
    pub(crate) fn global_index(&self, offset: usize) -> usize {
        let ndim = self.shape.len();
        let mut rest = offset;
        let mut index = 0;
        for axis in (0..ndim).rev() {
            let local = rest % self.shape[axis];
            rest /= self.shape[axis];
            index += (self.origin[axis] + local) * self.array_strides[axis];
        }
        index
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uniform_chunks_are_cut_to_the_shape_with_a_ragged_last_chunk() {
        let g = Grid::new(&[10, 3, 0], &Chunks::from([4, 5, 2])).unwrap();
        assert_eq!(g.chunks(), [vec![4, 4, 2], vec![3], vec![]]);
        assert_eq!(g.starts()[0], [0, 4, 8]);
        assert_eq!(g.num_blocks(), 0);
    }

    #[test]
    fn coords_and_indices_are_row_major_and_inverse() {
        let g = Grid::new(&[5, 6, 7], &Chunks::from([2, 4, 3])).unwrap();
        assert_eq!(g.counts(), [3, 2, 3]);
        for i in 0..g.num_blocks() {
            assert_eq!(g.index(&g.coords(i)), i);
        }
        assert_eq!(g.coords(7), [1, 0, 1]);
        assert_eq!(g.block_shape(&[2, 1, 2]), [1, 2, 1]);
        assert_eq!(g.block_origin(&[2, 1, 2]), [4, 4, 6]);
    }

    #[test]
    fn global_indices_follow_the_array_layout() {
        // Block (1, 1) of a 4×6 array in 2×3 blocks starts at (2, 3).
        let g = Grid::new(&[4, 6], &Chunks::from([2, 3])).unwrap();
        let place = g.place(&[1, 1]);
        assert_eq!(place.global_index(0), 2 * 6 + 3);
        assert_eq!(place.global_index(4), 3 * 6 + 4);
        let mut coords = [0; 2];
        assert_eq!(place.row_coords(4, &mut coords), 1);
        assert_eq!(coords, [1, 1]);
        // 0-D: one element at index 0.
        let scalar = Grid::new(&[], &Chunks::Uniform(vec![])).unwrap().place(&[]);
        assert_eq!((scalar.len(), scalar.global_index(0)), (1, 0));
    }

    #[test]
    fn bad_chunkings_name_the_axis() {
        assert_eq!(
            Grid::new(&[4, 4], &Chunks::from([2])),
            Err(ArrayError::ChunkRank { ndim: 2, found: 1 })
        );
        assert_eq!(
            Grid::new(&[4, 4], &Chunks::from(vec![vec![4], vec![2, 0, 2]])),
            Err(ArrayError::ZeroChunk { axis: 1 })
        );
        assert_eq!(
            Grid::new(&[4, 4], &Chunks::from(vec![vec![4], vec![2, 3]])),
            Err(ArrayError::ChunkSum {
                axis: 1,
                sum: 5,
                len: 4
            })
        );
        assert!(matches!(
            Grid::new(&[usize::MAX, 2], &Chunks::from([1, 1])),
            Err(ArrayError::TooLarge { .. })
        ));
    }
}
