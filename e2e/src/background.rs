use std::future::Future;

use kube::{Client, Config};

/// Runs async cleanup from `Drop`, which cannot await. The work gets its own thread, runtime
/// and client: the test's runtime may be a single thread that is blocked inside this very drop,
/// so a client bound to it would deadlock.
pub(crate) fn run_to_completion<F, Fut>(config: &Config, work: F)
where
    F: FnOnce(Client) -> Fut + Send + 'static,
    Fut: Future<Output = ()>,
{
    let config = config.clone();
    let worker = std::thread::spawn(move || {
        let runtime = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(runtime) => runtime,
            Err(err) => {
                eprintln!("readyroll-e2e: cannot start a runtime for cleanup: {err}");
                return;
            }
        };
        runtime.block_on(async move {
            match Client::try_from(config) {
                Ok(client) => work(client).await,
                Err(err) => eprintln!("readyroll-e2e: cannot build a client for cleanup: {err}"),
            }
        });
    });
    if worker.join().is_err() {
        eprintln!("readyroll-e2e: cleanup thread panicked");
    }
}
