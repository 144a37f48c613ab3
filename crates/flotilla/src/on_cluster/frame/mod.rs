//! DataFrames on a cluster: the client side ([`exec`]) lowers a frame's
//! plan to tasks; the worker side ([`tasks`]) runs them with the frame's
//! kernels.

mod exec;
mod tasks;

use std::sync::Arc;

use flotilla_cluster::Client;
use flotilla_dataframe::portable::HeldPartitions;
use flotilla_dataframe::{DataFrame, DataFrameError, RecordBatch, Scalar};

use super::{ComputeOnCluster, OnClusterError, PersistOnCluster};
use exec::{Held, Lowering};

impl PersistOnCluster for DataFrame {
    fn persist_on(&self, client: &Client) -> Result<DataFrame, OnClusterError> {
        let futures = Lowering::new(client).partitions(&*self.plan()?)?;
        let count = futures.len();
        let held = Arc::new(Held {
            client: client.clone(),
            futures,
        });
        let fetch = Arc::clone(&held);
        let load = move |i: usize| {
            let future = fetch.futures.get(i..=i).unwrap_or_default();
            let fetched = fetch.client.gather(future).map_err(|e| {
                DataFrameError::Invalid(format!(
                    "partition {i} of a frame persisted on a cluster could not be fetched: {e}"
                ))
            })?;
            match fetched.first() {
                Some(ipc) => ipc.batch(),
                None => Err(DataFrameError::Internal(format!(
                    "no partition {i} among {}",
                    fetch.futures.len()
                ))),
            }
        };
        Ok(DataFrame::from_held(
            self.schema(),
            HeldPartitions::new(held, count),
            load,
        ))
    }
}

impl ComputeOnCluster for DataFrame {
    type Output = RecordBatch;

    fn compute_on(&self, client: &Client) -> Result<RecordBatch, OnClusterError> {
        Lowering::new(client).frame(&*self.plan()?, self.schema())
    }
}

impl<A: Clone + Send + Sync + 'static> ComputeOnCluster for Scalar<A> {
    type Output = A;

    fn compute_on(&self, client: &Client) -> Result<A, OnClusterError> {
        Lowering::new(client).scalar(&*self.plan()?)
    }
}
