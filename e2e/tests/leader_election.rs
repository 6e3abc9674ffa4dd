//! Leader election on a real API server: one writer at a time, a released
//! Lease handed over at once, and a leader cut off from the API server that
//! stops writing before anyone else may start.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Patch, PatchParams};
use kube::Client;
use readyroll::leader::{LeaderConfig, LeaderElection, Leadership};
use readyroll_e2e::{Cluster, Must, TestNamespace};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinSet;

const LEASE: &str = "readyroll-leader";
const LEASE_SECONDS: u64 = 4;

/// Short timings so the tests take seconds: 4 s Lease renewed 2 s before
/// expiry, checked every 500 ms, 1 s of clock-skew margin.
fn config(namespace: &str, identity: &str) -> LeaderConfig {
    LeaderConfig {
        lease_duration_secs: LEASE_SECONDS,
        renew_before_secs: 2,
        retry_period: Duration::from_millis(500),
        max_clock_skew: Duration::from_secs(1),
        ..LeaderConfig::new(namespace, identity)
    }
}

/// Waits until `condition` holds, polling every 10 ms; the elapsed time.
async fn until(what: &str, timeout: Duration, condition: impl Fn() -> bool) -> Duration {
    let started = Instant::now();
    while !condition() {
        assert!(
            started.elapsed() < timeout,
            "{what}: not within {timeout:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    started.elapsed()
}

/// Samples both replicas every 5 ms for `window`: never two leaders.
async fn assert_one_writer_for(a: &Leadership, b: &Leadership, window: Duration) {
    let started = Instant::now();
    while started.elapsed() < window {
        assert!(
            !(a.is_leader() && b.is_leader()),
            "two leaders at {:?}",
            started.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// How many of `replicas` may write right now.
fn leaders(replicas: &[Leadership]) -> usize {
    replicas.iter().filter(|r| r.is_leader()).count()
}

async fn holder(ns: &TestNamespace) -> Option<String> {
    ns.api::<Lease>()
        .get(LEASE)
        .await
        .must("read the Lease")
        .spec
        .and_then(|spec| spec.holder_identity)
}

#[tokio::test]
#[ignore = "needs a cluster: run by the api tier"]
async fn one_leader_and_a_released_lease_is_taken_over_at_once() {
    let cluster = Cluster::require().await;
    let ns = TestNamespace::new(&cluster, "leader-release")
        .await
        .must("namespace");

    let a = LeaderElection::start(cluster.client(), config(ns.name(), "replica-a"))
        .await
        .must("start a");
    let b = LeaderElection::start(cluster.client(), config(ns.name(), "replica-b"))
        .await
        .must("start b");
    let (la, lb) = (a.leadership(), b.leadership());
    let first = until("a first leader", Duration::from_secs(10), || {
        la.is_leader() || lb.is_leader()
    })
    .await;
    eprintln!("first leader after {first:?}");

    // Several renewals: leadership stays put and never doubles.
    let a_led = la.is_leader();
    assert_one_writer_for(&la, &lb, Duration::from_secs(3 * LEASE_SECONDS)).await;
    assert_eq!(la.is_leader(), a_led, "leadership moved without a reason");
    let (leader, standby, leader_id, standby_id) = if a_led {
        (a, lb.clone(), "replica-a", "replica-b")
    } else {
        (b, la.clone(), "replica-b", "replica-a")
    };
    assert_eq!(holder(&ns).await.as_deref(), Some(leader_id));

    let released = Instant::now();
    leader.release().await.must("release");
    let took = until(
        "the standby takes over",
        Duration::from_secs(LEASE_SECONDS),
        || standby.is_leader(),
    )
    .await;
    eprintln!("standby leader {:?} after the release", released.elapsed());
    // A standby reads the Lease every retry period (500 ms here): far
    // sooner than waiting for the released Lease to expire.
    assert!(took < Duration::from_secs(2), "takeover took {took:?}");
    assert_eq!(holder(&ns).await.as_deref(), Some(standby_id));
}

#[tokio::test]
#[ignore = "needs a cluster: run by the api tier"]
async fn a_taken_lease_stops_writes_within_one_check() {
    let cluster = Cluster::require().await;
    let ns = TestNamespace::new(&cluster, "leader-taken")
        .await
        .must("namespace");
    let a = LeaderElection::start(cluster.client(), config(ns.name(), "replica-a"))
        .await
        .must("start");
    let la = a.leadership();
    let mut changes = la.changes();
    until("a leads", Duration::from_secs(10), || la.is_leader()).await;
    assert!(*changes.borrow_and_update());

    // Another party takes the Lease over (as a replica of a newer operator
    // version with a stricter clock would).
    let taken = Instant::now();
    let patch = serde_json::json!({
        "spec": {
            "holderIdentity": "intruder",
            "renewTime": MicroTime(Timestamp::now()),
            "acquireTime": MicroTime(Timestamp::now()),
            "leaseDurationSeconds": 60,
        }
    });
    ns.api::<Lease>()
        .patch(LEASE, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .must("take the Lease");
    let stopped = until("a stops writing", Duration::from_secs(2), || {
        !la.is_leader()
    })
    .await;
    eprintln!(
        "stopped writing {:?} after the Lease was taken",
        taken.elapsed()
    );
    assert!(stopped <= Duration::from_millis(1500), "took {stopped:?}");
    tokio::time::timeout(Duration::from_secs(2), changes.changed())
        .await
        .must("a change is published")
        .must("channel open");
    assert!(!*changes.borrow_and_update());
    a.release().await.must("release");
    assert_eq!(
        holder(&ns).await.as_deref(),
        Some("intruder"),
        "release must not clear another holder"
    );
}

/// A TCP proxy to the API server that can be cut: the leader's only way to
/// the API server, to simulate a network partition.
struct Proxy {
    addr: SocketAddr,
    cut: Option<oneshot::Sender<()>>,
}

impl Proxy {
    async fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.must("bind proxy");
        let addr = listener.local_addr().must("proxy address");
        let (cut, mut cut_rx) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let mut connections = JoinSet::new();
            loop {
                tokio::select! {
                    _ = &mut cut_rx => break,
                    accepted = listener.accept() => {
                        let Ok((mut client, _)) = accepted else { continue };
                        let upstream = upstream.clone();
                        connections.spawn(async move {
                            if let Ok(mut server) = TcpStream::connect(&upstream).await {
                                let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                            }
                        });
                    }
                }
            }
            // Dropping the listener and every connection: the partition.
            connections.abort_all();
        });
        Self {
            addr,
            cut: Some(cut),
        }
    }

    fn cut(&mut self) {
        if let Some(cut) = self.cut.take() {
            let _ = cut.send(());
        }
    }
}

#[tokio::test]
#[ignore = "needs a cluster: run by the api tier"]
async fn a_leader_cut_off_from_the_api_server_stops_writing_before_another_starts() {
    let cluster = Cluster::require().await;
    let ns = TestNamespace::new(&cluster, "leader-partition")
        .await
        .must("namespace");

    let url = cluster.config().cluster_url.clone();
    let upstream = format!(
        "{}:{}",
        url.host().expect("the API server URL has a host"),
        url.port_u16().unwrap_or(443)
    );
    let mut proxy = Proxy::start(upstream).await;
    let mut through_proxy = cluster.config().clone();
    through_proxy.cluster_url = format!("https://127.0.0.1:{}", proxy.addr.port())
        .parse()
        .must("proxy URL");
    let partitioned_client = Client::try_from(through_proxy).must("client through the proxy");

    let a = LeaderElection::start(partitioned_client, config(ns.name(), "replica-a"))
        .await
        .must("start a");
    let la = a.leadership();
    until("a leads", Duration::from_secs(10), || la.is_leader()).await;
    let b = LeaderElection::start(cluster.client(), config(ns.name(), "replica-b"))
        .await
        .must("start b");
    let lb = b.leadership();
    assert_one_writer_for(&la, &lb, Duration::from_secs(2)).await;
    assert!(la.is_leader() && !lb.is_leader());

    proxy.cut();
    let cut = Instant::now();
    let mut a_stopped = None;
    let mut b_started = None;
    while b_started.is_none() {
        let (a_leads, b_leads) = (la.is_leader(), lb.is_leader());
        assert!(
            !(a_leads && b_leads),
            "two leaders {:?} after the partition",
            cut.elapsed()
        );
        if !a_leads && a_stopped.is_none() {
            a_stopped = Some(cut.elapsed());
        }
        if b_leads {
            b_started = Some(cut.elapsed());
        }
        assert!(
            cut.elapsed() < Duration::from_secs(3 * LEASE_SECONDS),
            "b never took over"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let (a_stopped, b_started) = (a_stopped.expect("a stopped"), b_started.expect("b started"));
    eprintln!("after the partition: a stopped writing at {a_stopped:?}, b leads at {b_started:?}");
    // a stops on its own clock, before its Lease can expire...
    assert!(
        a_stopped < Duration::from_secs(LEASE_SECONDS),
        "a stopped at {a_stopped:?}"
    );
    // ...and b waits for the expiry, then takes over within a Lease duration.
    assert!(b_started > a_stopped);
    assert!(
        b_started < Duration::from_secs(2 * LEASE_SECONDS),
        "b started at {b_started:?}"
    );
    assert_eq!(holder(&ns).await.as_deref(), Some("replica-b"));
    assert!(!la.is_leader(), "a must not lead while cut off");

    b.release().await.must("release b");
    // a cannot reach the API server: its release gives up after a bounded wait.
    let released = Instant::now();
    let _ = a.release().await;
    assert!(released.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
#[ignore = "needs a cluster: run by the api tier"]
async fn two_standbys_racing_for_an_expired_lease_never_both_write() {
    let cluster = Cluster::require().await;
    let ns = TestNamespace::new(&cluster, "leader-race")
        .await
        .must("namespace");
    let url = cluster.config().cluster_url.clone();
    let upstream = format!(
        "{}:{}",
        url.host().expect("the API server URL has a host"),
        url.port_u16().unwrap_or(443)
    );

    // Three rounds: each time the leader is cut off and the two others race.
    for round in 0..3 {
        let mut proxy = Proxy::start(upstream.clone()).await;
        let mut through_proxy = cluster.config().clone();
        through_proxy.cluster_url = format!("https://127.0.0.1:{}", proxy.addr.port())
            .parse()
            .must("proxy URL");
        let doomed = LeaderElection::start(
            Client::try_from(through_proxy).must("client through the proxy"),
            config(ns.name(), &format!("doomed-{round}")),
        )
        .await
        .must("start the doomed leader");
        let ld = doomed.leadership();
        // A previous round's winner may still hold the Lease: wait for it
        // to be released (below) and for the doomed one to lead.
        until(
            "the doomed replica leads",
            Duration::from_secs(3 * LEASE_SECONDS),
            || ld.is_leader(),
        )
        .await;

        let b = LeaderElection::start(cluster.client(), config(ns.name(), &format!("b-{round}")))
            .await
            .must("start b");
        let c = LeaderElection::start(cluster.client(), config(ns.name(), &format!("c-{round}")))
            .await
            .must("start c");
        let replicas = [ld.clone(), b.leadership(), c.leadership()];
        proxy.cut();

        let cut = Instant::now();
        let mut taken_over = None;
        while cut.elapsed() < Duration::from_secs(3 * LEASE_SECONDS) {
            let writing = leaders(&replicas);
            assert!(
                writing <= 1,
                "round {round}: {writing} leaders {:?} after the cut",
                cut.elapsed()
            );
            if taken_over.is_none() && (replicas[1].is_leader() || replicas[2].is_leader()) {
                taken_over = Some(cut.elapsed());
            }
            // Keep watching a while after the takeover: a lost race shows up then.
            if taken_over.is_some_and(|at| cut.elapsed() > at + Duration::from_secs(2)) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let taken_over = taken_over.unwrap_or_else(|| panic!("round {round}: nobody took over"));
        eprintln!("round {round}: a standby leads {taken_over:?} after the cut");

        b.release().await.must("release b");
        c.release().await.must("release c");
        let _ = doomed.release().await;
    }
}
