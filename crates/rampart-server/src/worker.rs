//! The one shape of the server's periodic workers: a pass every interval until `stop`, and
//! the name a node's workers hold their leases and claims under.

use std::future::Future;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::MissedTickBehavior;

/// The owner name of this node's claims and leases: the process id and a random suffix, so
/// two nodes (or two servers in one process) never share one.
pub fn lease_owner() -> String {
    format!("{}-{:016x}", std::process::id(), rand::random::<u64>())
}

/// When a worker's first pass runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum First {
    /// At once.
    Now,
    /// One interval after start (the work was just done at open, or can wait).
    AfterOneInterval,
}

/// Run `pass` every `interval` (a late tick is delayed, never bunched up) until `stop`
/// changes or its sender is gone. A pass is awaited before the next tick is waited for.
pub async fn every<F, Fut>(
    interval: Duration,
    first: First,
    mut stop: watch::Receiver<bool>,
    mut pass: F,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    if first == First::AfterOneInterval {
        tick.tick().await; // the first tick is immediate
    }
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        pass().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn passes_run_each_interval_until_stop() {
        let (tx, rx) = watch::channel(false);
        let mut n = 0u32;
        let worker = every(Duration::from_secs(10), First::Now, rx, || {
            n += 1;
            if n == 3 {
                tx.send(true).expect("the worker listens");
            }
            async {}
        });
        tokio::time::timeout(Duration::from_secs(60), worker)
            .await
            .expect("the worker stops when told");
        assert_eq!(n, 3);
    }

    #[tokio::test(start_paused = true)]
    async fn the_first_pass_can_wait_one_interval() {
        let (_tx, rx) = watch::channel(false);
        let start = tokio::time::Instant::now();
        let (seen_tx, mut seen) = tokio::sync::mpsc::unbounded_channel();
        let worker = every(
            Duration::from_secs(10),
            First::AfterOneInterval,
            rx,
            move || {
                let _ = seen_tx.send(tokio::time::Instant::now());
                async {}
            },
        );
        tokio::spawn(worker);
        let first = seen.recv().await.expect("a pass");
        assert_eq!(first - start, Duration::from_secs(10));
        assert_ne!(lease_owner(), lease_owner());
    }
}
