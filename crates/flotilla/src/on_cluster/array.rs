//! Arrays on a cluster: one task per block, each rebuilding the array from
//! its plan and reducing only its block; the blocks' values combined on
//! the client.

use flotilla_array::portable::{ArrayPlan, ArrayReduction, Number};
use flotilla_array::Scalar;
use flotilla_cluster::{Arg, Call, Client, ClusterFuture};

use super::{ComputeOnCluster, OnClusterError, RETRIES};
use crate::mapreduce::pieces::{arity, decode, encode};

/// The registered name of the block task.
const BLOCK: &str = "flotilla::array::block";

flotilla_cluster::__private::inventory::submit! {
    flotilla_cluster::RemoteFunction::new(BLOCK, block)
}

/// `(plan, reduction, block)`: the block's value.
fn block(args: &[&[u8]]) -> Result<Vec<u8>, String> {
    arity(args, 3, "array block")?;
    let plan: ArrayPlan = decode(args[0], "the array's plan")?;
    let reduction: ArrayReduction = decode(args[1], "the reduction")?;
    let index: u32 = decode(args[2], "the block")?;
    let value = plan
        .reduce_block(reduction, index as usize)
        .map_err(|e| format!("block {index}: {e}"))?;
    encode(&value, "a block's value")
}

impl<A: Clone + Send + Sync + 'static> ComputeOnCluster for Scalar<A> {
    type Output = A;

    fn compute_on(&self, client: &Client) -> Result<A, OnClusterError> {
        let plan = self.plan()?;
        let (array, reduction) = (plan.array(), plan.reduction());
        if array.num_blocks() == 0 {
            // No block to send anywhere: the value of no elements.
            return Ok(self.compute()?);
        }
        let blocks = (0..array.num_blocks() as u32)
            .map(|i| {
                client.submit(
                    Call::new(BLOCK)
                        .arg(Arg::by_ref(&**array))
                        .arg(Arg::from(reduction))
                        .arg(Arg::from(i))
                        .retries(RETRIES),
                )
            })
            .collect::<Result<Vec<ClusterFuture<Number>>, _>>()?;
        let values = client.gather(&blocks)?;
        let combined = reduction.combine(&values, array.len())?;
        Ok(plan.finish(combined)?)
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use flotilla_array::{Array, ArrayError};

    #[test]
    fn reductions_on_a_cluster_equal_the_in_process_ones() {
        let client = Client::in_process(2).unwrap();
        let x = (Array::<i64>::arange(10_000, 999).unwrap() * 3 - 7).abs();
        assert_eq!(
            x.sum().compute_on(&client).unwrap(),
            x.sum().compute().unwrap()
        );
        assert_eq!(
            x.max().compute_on(&client).unwrap(),
            x.max().compute().unwrap()
        );
        assert_eq!(
            x.min().compute_on(&client).unwrap(),
            x.min().compute().unwrap()
        );
        let m = x.mean().compute().unwrap();
        assert!((x.mean().compute_on(&client).unwrap() - m).abs() < 1e-9 * m);

        let y = (10.0 - Array::random(&[300, 200], [70, 90], 5).unwrap())
            .powi(2)
            .clip(1.0, 90.0)
            .ln();
        let (here, there) = (
            y.sum().compute().unwrap(),
            y.sum().compute_on(&client).unwrap(),
        );
        assert!(
            (here - there).abs() < 1e-9 * here.abs(),
            "{here} vs {there}"
        );
        assert_eq!(
            y.max().compute_on(&client).unwrap(),
            y.max().compute().unwrap()
        );

        let f = Array::<f64>::arange(7, 3).unwrap().as_f64() + 0.5;
        assert_eq!(f.sum().compute_on(&client).unwrap(), 24.5);
        let full = -Array::full(&[5, 5], [2, 5], 3_i64).unwrap();
        assert_eq!(full.sum().compute_on(&client).unwrap(), -75);
    }

    #[test]
    fn what_cannot_run_on_a_cluster_says_so() {
        let client = Client::in_process(1).unwrap();
        let x = Array::<i64>::arange(10, 5).unwrap().map(|v| v + 1);
        let err = x.sum().compute_on(&client).unwrap_err();
        assert!(
            matches!(err, OnClusterError::Array(ArrayError::LocalOnly { .. })),
            "{err}"
        );
        assert!(err.to_string().contains("map"), "{err}");
        let var = Array::<f64>::ones(&[4], 2).unwrap().var();
        assert!(var.compute_on(&client).is_err());
    }
}
