//! The threads that apply remote-write requests to the store.
//!
//! Applying a request is CPU work on memory the head keeps for hours: every series' open chunk
//! grows, by reallocation, on the thread that applies its sample. On tokio's blocking pool that
//! was whichever of half a dozen threads was free, so the chunks moved between the allocator's
//! per-thread heaps, and every heap kept partly used pages of every chunk size, and the blocks
//! one thread freed for another until that one came by again. As many threads as cores, the
//! same ones for every request, keep the head's memory in fewer heaps: under `bench/run.sh`'s
//! load, 3–4 MB less anonymous memory on average over the run (4 alternated runs each; the peak
//! moved less than its run-to-run spread; bench/RESULTS.md). They also bound the CPU that
//! ingestion takes to the cores there are.

use std::panic::AssertUnwindSafe;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, OnceLock};

use parking_lot::Mutex;

type Job = Box<dyn FnOnce() + Send>;

/// A fixed set of threads, started on first use, that run jobs in the order they come.
#[derive(Default)]
pub(crate) struct IngestWorkers {
    /// `None` when not one thread could be started; jobs then go to tokio's blocking pool.
    jobs: OnceLock<Option<Sender<Job>>>,
}

/// Why a job gave no result.
#[derive(Debug)]
pub(crate) struct JobFailed(pub(crate) String);

impl IngestWorkers {
    /// Runs `work` on one of the threads and returns its result; a panic in `work` is returned
    /// as [`JobFailed`] and leaves the thread running.
    pub(crate) async fn run<R: Send + 'static>(
        &self,
        work: impl FnOnce() -> R + Send + 'static,
    ) -> Result<R, JobFailed> {
        let Some(jobs) = self.jobs.get_or_init(start_threads) else {
            return tokio::task::spawn_blocking(work).await.map_err(|error| JobFailed(error.to_string()));
        };
        let (sender, receiver) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            // A panic drops `sender`, which the caller sees as a failed job.
            if let Ok(result) = std::panic::catch_unwind(AssertUnwindSafe(work)) {
                let _ = sender.send(result);
            }
        });
        jobs.send(job).map_err(|_| JobFailed("the ingest threads stopped".to_owned()))?;
        receiver.await.map_err(|_| JobFailed("the request panicked while it was applied".to_owned()))
    }
}

/// Starts one thread per core; they end when the sender is dropped.
fn start_threads() -> Option<Sender<Job>> {
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let (sender, receiver) = channel::<Job>();
    let receiver = Arc::new(Mutex::new(receiver));
    let mut started = 0;
    for index in 0..threads {
        let receiver = receiver.clone();
        let spawned = std::thread::Builder::new().name(format!("ingest-{index}")).spawn(move || work_loop(&receiver));
        match spawned {
            Ok(_) => started += 1,
            Err(error) => tracing::warn!(%error, "cannot start a remote-write ingest thread"),
        }
    }
    (started > 0).then_some(sender)
}

fn work_loop(receiver: &Mutex<Receiver<Job>>) {
    loop {
        // One idle thread waits on the channel, the others on the lock.
        let job = receiver.lock().recv();
        match job {
            Ok(job) => job(),
            Err(_) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn jobs_run_on_the_ingest_threads_and_a_panic_fails_only_its_job() {
        let workers = IngestWorkers::default();
        let name = workers.run(|| std::thread::current().name().map(str::to_owned)).await.unwrap();
        assert!(name.is_some_and(|name| name.starts_with("ingest-")), "ran on an ingest thread");
        // As many panics as threads: had a panic ended its thread, none would be left.
        let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        for _ in 0..threads {
            assert!(workers.run(|| -> u32 { panic!("bad request") }).await.is_err());
        }
        assert_eq!(workers.run(|| 21 * 2).await.unwrap(), 42);
    }
}
