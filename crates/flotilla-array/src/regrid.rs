//! Rechunking and slicing: new blocks cut from the old ones, fused.
//!
//! Both operations take a region of the array (all of it for
//! [`Array::rechunk`]) and cut it into new chunks (for
//! [`Array::slice`], the pieces of the old chunks inside the region, as
//! dask does). A new block that is exactly an old block reuses it. Any
//! other new block is a *composite*: it reads the inputs of every old block
//! it overlaps, and its fill asks each of those blocks' fills for the runs
//! it needs. Since a fill can make any run of its block on its own, the
//! composite makes only the elements it keeps — nothing is materialized
//! in between, and a rechunked or sliced `random` array is generated
//! directly in its new blocks.

use std::ops::Range;
use std::sync::Arc;

use crate::block::{Block, Fill};
use crate::chunks::Grid;
use crate::element::BlockData;
use crate::{Array, ArrayError, Chunks, Element};

/// The part of an old chunk inside a new one, along one axis.
#[derive(Debug, Clone, Copy)]
struct Piece {
    /// The old chunk.
    chunk: usize,
    /// Where the part starts inside the old chunk.
    src_start: usize,
    /// Where it starts inside the new chunk.
    out_start: usize,
    /// Its length.
    len: usize,
}

/// The parts of the old chunks of an axis (sizes `sizes`, starts `starts`)
/// that cover `lo..hi` of the array.
fn pieces(sizes: &[usize], starts: &[usize], lo: usize, hi: usize) -> Vec<Piece> {
    let mut out = Vec::new();
    let mut chunk = starts.partition_point(|&s| s <= lo).saturating_sub(1);
    while chunk < sizes.len() && starts[chunk] < hi {
        let from = lo.max(starts[chunk]);
        let to = hi.min(starts[chunk] + sizes[chunk]);
        if from < to {
            out.push(Piece {
                chunk,
                src_start: from - starts[chunk],
                out_start: from - lo,
                len: to - from,
            });
        }
        chunk += 1;
    }
    out
}

/// An old block a composite reads from.
struct Source<T> {
    /// Its inputs among the composite's.
    inputs: Range<usize>,
    fill: Fill<T>,
}

/// How a composite block finds its elements in the old blocks.
struct Composite<T> {
    /// The new block's shape.
    shape: Vec<usize>,
    /// For each axis but the last, for each coordinate in the new block:
    /// which piece holds it, and its coordinate in that piece's old block.
    lookup: Vec<Vec<(usize, usize)>>,
    /// For each axis but the last, the size of each piece's old chunk.
    piece_chunk_sizes: Vec<Vec<usize>>,
    /// The pieces along the last axis, and their old chunks' sizes.
    last: Vec<(Piece, usize)>,
    /// The old blocks, in row-major order of their pieces.
    sources: Vec<Source<T>>,
}

impl<T: Element> Composite<T> {
    fn fill(&self, inputs: &[&BlockData], offset: usize, out: &mut [T]) -> Result<(), ArrayError> {
        let ndim = self.shape.len();
        let row_len = self.shape[ndim - 1];
        let col = offset % row_len;
        // The row's coordinates along the other axes, last axis first.
        let mut stack = [(0usize, 0usize); 16];
        let mut heap;
        let coords: &mut [(usize, usize)] = if ndim - 1 <= stack.len() {
            &mut stack[..ndim - 1]
        } else {
            heap = vec![(0, 0); ndim - 1];
            &mut heap
        };
        let mut row = offset / row_len;
        for axis in (0..ndim - 1).rev() {
            let local = row % self.shape[axis];
            row /= self.shape[axis];
            coords[axis] = self.lookup[axis][local];
        }
        // The old blocks' rows: a mixed-radix number of pieces and a Horner
        // sum of coordinates in the old blocks' shapes.
        let mut source = 0;
        let mut src_row = 0;
        for (axis, &(piece, src)) in coords.iter().enumerate() {
            source = source * self.piece_chunk_sizes[axis].len() + piece;
            src_row = src_row * self.piece_chunk_sizes[axis][piece] + src;
        }
        let end = col + out.len();
        for (p, &(piece, chunk_len)) in self.last.iter().enumerate() {
            let from = col.max(piece.out_start);
            let to = end.min(piece.out_start + piece.len);
            if from >= to {
                continue;
            }
            let src = self
                .sources
                .get(source * self.last.len() + p)
                .ok_or_else(|| ArrayError::Internal("a composite block lost a source".into()))?;
            let src_offset = src_row * chunk_len + piece.src_start + (from - piece.out_start);
            let src_inputs = inputs
                .get(src.inputs.clone())
                .ok_or_else(|| ArrayError::Internal("a composite block lost its inputs".into()))?;
            (src.fill)(src_inputs, src_offset, &mut out[from - col..to - col])?;
        }
        Ok(())
    }
}

impl<T: Element> Array<T> {
    /// The same array in other chunks. The new blocks are cut from the old
    /// ones without materializing them (see the [crate docs](crate)); a new
    /// block equal to an old one reuses it.
    ///
    /// # Errors
    ///
    /// A chunking that does not fit the shape ([`ArrayError::ChunkRank`],
    /// [`ArrayError::ZeroChunk`], [`ArrayError::ChunkSum`]).
    ///
    /// ```
    /// use flotilla_array::Array;
    ///
    /// let a = Array::random(&[100, 60], [10, 60], 5)?;
    /// let b = a.rechunk([60, 25])?;
    /// assert_eq!(b.chunks(), [vec![60, 40], vec![25, 25, 10]]);
    /// assert_eq!(b.compute()?, a.compute()?);
    /// # Ok::<(), flotilla_array::ArrayError>(())
    /// ```
    pub fn rechunk(&self, chunks: impl Into<Chunks>) -> Result<Array<T>, ArrayError> {
        let grid = Grid::new(self.shape(), &chunks.into())?;
        if grid.chunks() == self.chunks() {
            return Ok(self.clone());
        }
        Ok(self.regrid(&vec![0; self.ndim()], grid, "rechunk"))
    }

    /// The part of the array in `ranges`, one range per axis (axes without
    /// a range are kept whole), as NumPy's `a[a0:a1, b0:b1]`. The new
    /// chunks are the parts of the old ones inside the ranges: blocks wholly
    /// inside are reused, others are cut from the old block without
    /// materializing it.
    ///
    /// # Errors
    ///
    /// [`ArrayError::SliceRank`] for more ranges than axes,
    /// [`ArrayError::SliceOutOfBounds`] for a range reversed or past the end
    /// of its axis.
    ///
    /// ```
    /// use flotilla_array::Array;
    ///
    /// let a = Array::<i64>::arange(10, 4)?;                   // chunks 4, 4, 2
    /// let s = a.slice(&[3..9])?;
    /// assert_eq!(s.chunks(), [vec![1, 4, 1]]);                // the middle block is reused
    /// assert_eq!(s.compute_vec()?, [3, 4, 5, 6, 7, 8]);
    /// assert!(a.slice(&[3..11]).is_err());
    /// # Ok::<(), flotilla_array::ArrayError>(())
    /// ```
    pub fn slice(&self, ranges: &[Range<usize>]) -> Result<Array<T>, ArrayError> {
        let ndim = self.ndim();
        if ranges.len() > ndim {
            return Err(ArrayError::SliceRank {
                ranges: ranges.len(),
                ndim,
            });
        }
        let mut starts = Vec::with_capacity(ndim);
        let mut shape = Vec::with_capacity(ndim);
        let mut chunks = Vec::with_capacity(ndim);
        for (axis, &len) in self.shape().iter().enumerate() {
            let range = ranges.get(axis).cloned().unwrap_or(0..len);
            if range.start > range.end || range.end > len {
                return Err(ArrayError::SliceOutOfBounds {
                    axis,
                    start: range.start,
                    end: range.end,
                    len,
                });
            }
            let axis_pieces = pieces(
                &self.grid.chunks()[axis],
                &self.grid.starts()[axis],
                range.start,
                range.end,
            );
            starts.push(range.start);
            shape.push(range.len());
            chunks.push(axis_pieces.iter().map(|p| p.len).collect());
        }
        if starts.iter().all(|&s| s == 0) && shape == self.shape() {
            return Ok(self.clone());
        }
        Ok(self.regrid(&starts, Grid::from_checked(shape, chunks), "slice"))
    }

    /// The region of this array that starts at `start` and has `grid`'s
    /// shape, cut into `grid`'s chunks.
    pub(crate) fn regrid(&self, start: &[usize], grid: Grid, op: &str) -> Array<T> {
        let blocks = if self.ndim() == 0 {
            self.blocks.to_vec()
        } else {
            (0..grid.num_blocks())
                .map(|i| self.cut_block(start, &grid, &grid.coords(i)))
                .collect()
        };
        Array::from_blocks(grid, blocks, self.ops_then(op), self.split_every)
    }

    /// Block `coords` of `grid`, cut from this array's blocks.
    fn cut_block(&self, start: &[usize], grid: &Grid, coords: &[usize]) -> Block<T> {
        let old = &self.grid;
        let origin = grid.block_origin(coords);
        let shape = grid.block_shape(coords);
        let per_axis: Vec<Vec<Piece>> = (0..self.ndim())
            .map(|a| {
                let lo = start[a] + origin[a];
                pieces(&old.chunks()[a], &old.starts()[a], lo, lo + shape[a])
            })
            .collect();
        // A new block that is exactly an old block: reuse it.
        let whole = per_axis.iter().enumerate().all(|(a, ps)| {
            matches!(ps.as_slice(), [p] if p.src_start == 0 && p.len == old.chunks()[a][p.chunk])
        });
        if whole {
            let old_coords: Vec<usize> = per_axis.iter().map(|ps| ps[0].chunk).collect();
            return self.blocks[old.index(&old_coords)].clone();
        }

        let counts: Vec<usize> = per_axis.iter().map(Vec::len).collect();
        let mut inputs = Vec::new();
        let mut sources = Vec::new();
        for s in 0..counts.iter().product() {
            let mut rest = s;
            let mut old_coords = vec![0; self.ndim()];
            for a in (0..self.ndim()).rev() {
                old_coords[a] = per_axis[a][rest % counts[a]].chunk;
                rest /= counts[a];
            }
            let block = &self.blocks[old.index(&old_coords)];
            let first = inputs.len();
            inputs.extend(block.inputs.iter().cloned());
            sources.push(Source {
                inputs: first..inputs.len(),
                fill: Arc::clone(&block.fill),
            });
        }
        let last_axis = self.ndim() - 1;
        let lookup = (0..last_axis)
            .map(|a| {
                per_axis[a]
                    .iter()
                    .enumerate()
                    .flat_map(|(i, p)| (0..p.len).map(move |k| (i, p.src_start + k)))
                    .collect()
            })
            .collect();
        let piece_chunk_sizes = (0..last_axis)
            .map(|a| {
                per_axis[a]
                    .iter()
                    .map(|p| old.chunks()[a][p.chunk])
                    .collect()
            })
            .collect();
        let last = per_axis[last_axis]
            .iter()
            .map(|p| (*p, old.chunks()[last_axis][p.chunk]))
            .collect();
        let composite = Composite {
            shape,
            lookup,
            piece_chunk_sizes,
            last,
            sources,
        };
        Block {
            inputs,
            fill: Arc::new(move |inputs: &[&BlockData], offset, out: &mut [T]| {
                composite.fill(inputs, offset, out)
            }),
            stored: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_cover_the_range_in_order() {
        let sizes = [4, 4, 2];
        let starts = [0, 4, 8];
        let ps = pieces(&sizes, &starts, 3, 9);
        let got: Vec<_> = ps
            .iter()
            .map(|p| (p.chunk, p.src_start, p.out_start, p.len))
            .collect();
        assert_eq!(got, [(0, 3, 0, 1), (1, 0, 1, 4), (2, 0, 5, 1)]);
        assert!(pieces(&sizes, &starts, 5, 5).is_empty());
        let tail: Vec<_> = pieces(&sizes, &starts, 8, 10)
            .iter()
            .map(|p| p.chunk)
            .collect();
        assert_eq!(tail, [2]);
    }
}
