//! Leader election on a real API server: one writer at a time, a released
//! Lease handed over at once, and a leader cut off from the API server that
//! stops writing before anyone else may start.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Patch, PatchParams};
use kube::Client;
use readyroll::leader::{LeaderConfig, LeaderElection, Leadership};
use readyroll_e2e::{Cluster, Must, TestNamespace};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing_subscriber::util::SubscriberInitExt;

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

/// A TCP proxy to the API server that can be cut and healed: the leader's
/// only way to the API server, to simulate a network partition or an
/// outage. While cut it accepts and drops every connection at once, so
/// each call fails immediately (the case that once made the elector spin).
struct Proxy {
    addr: SocketAddr,
    cut: watch::Sender<bool>,
}

impl Proxy {
    async fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.must("bind proxy");
        let addr = listener.local_addr().must("proxy address");
        let (cut, _) = watch::channel(false);
        let cut_rx = cut.subscribe();
        tokio::spawn(async move {
            let mut connections = JoinSet::new();
            while let Ok((mut client, _)) = listener.accept().await {
                if *cut_rx.borrow() {
                    continue;
                }
                let upstream = upstream.clone();
                let mut cut_rx = cut_rx.clone();
                connections.spawn(async move {
                    let Ok(mut server) = TcpStream::connect(&upstream).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = cut_rx.wait_for(|cut| *cut) => {}
                    }
                });
                while connections.try_join_next().is_some() {}
            }
        });
        Self { addr, cut }
    }

    /// Drops every open connection and each new one.
    fn cut(&mut self) {
        self.cut.send_replace(true);
    }

    /// Lets connections through again.
    fn heal(&mut self) {
        self.cut.send_replace(false);
    }

    /// A client of the cluster that reaches it only through this proxy.
    fn client(&self, cluster: &Cluster) -> Client {
        let mut through_proxy = cluster.config().clone();
        through_proxy.cluster_url = format!("https://127.0.0.1:{}", self.addr.port())
            .parse()
            .must("proxy URL");
        Client::try_from(through_proxy).must("client through the proxy")
    }
}

/// `host:port` of the cluster's API server.
fn api_server(cluster: &Cluster) -> String {
    let url = cluster.config().cluster_url.clone();
    format!(
        "{}:{}",
        url.host().expect("the API server URL has a host"),
        url.port_u16().unwrap_or(443)
    )
}

#[tokio::test]
#[ignore = "needs a cluster: run by the api tier"]
async fn a_leader_cut_off_from_the_api_server_stops_writing_before_another_starts() {
    let cluster = Cluster::require().await;
    let ns = TestNamespace::new(&cluster, "leader-partition")
        .await
        .must("namespace");

    let mut proxy = Proxy::start(api_server(&cluster)).await;
    let partitioned_client = proxy.client(&cluster);

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
    let upstream = api_server(&cluster);

    // Three rounds: each time the leader is cut off and the two others race.
    for round in 0..3 {
        let mut proxy = Proxy::start(upstream.clone()).await;
        let doomed = LeaderElection::start(
            proxy.client(&cluster),
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

/// CPU time of the calling thread so far. A `#[tokio::test]` runs every
/// task it spawns (the elector, the client's connections) on this thread.
fn thread_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").must("read the thread's stat");
    // Fields after the command name (which may hold spaces) in parentheses.
    let fields: Vec<&str> = stat[stat.rfind(')').expect("stat format") + 2..]
        .split(' ')
        .collect();
    // utime and stime are fields 14 and 15 of the whole line, in clock ticks
    // (USER_HZ, 100 on Linux).
    let ticks: u64 =
        fields[11].parse::<u64>().must("utime") + fields[12].parse::<u64>().must("stime");
    Duration::from_millis(ticks * 10)
}

/// Counts the lines logged on this thread: all of them, and the election's
/// own (the client library also logs one line per failed request).
#[derive(Clone, Default)]
struct LogLines {
    all: Arc<AtomicUsize>,
    election: Arc<AtomicUsize>,
}

impl std::io::Write for LogLines {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        self.all.fetch_add(text.lines().count(), Ordering::Relaxed);
        let ours = text
            .lines()
            .filter(|l| l.contains("readyroll::leader"))
            .count();
        self.election.fetch_add(ours, Ordering::Relaxed);
        std::io::stderr().write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

impl LogLines {
    /// (all lines, the election's lines) so far.
    fn count(&self) -> (usize, usize) {
        (
            self.all.load(Ordering::Relaxed),
            self.election.load(Ordering::Relaxed),
        )
    }
}

#[tokio::test]
#[ignore = "needs a cluster: run by the api tier"]
async fn an_api_outage_costs_no_cpu_and_few_log_lines() {
    let cluster = Cluster::require().await;
    let ns = TestNamespace::new(&cluster, "leader-outage")
        .await
        .must("namespace");
    let lines = LogLines::default();
    let writer = lines.clone();
    let _logging = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_env_filter("info")
        .finish()
        .set_default();

    let mut proxy = Proxy::start(api_server(&cluster)).await;
    let a = LeaderElection::start(proxy.client(&cluster), config(ns.name(), "replica-a"))
        .await
        .must("start a");
    let la = a.leadership();
    until("a leads", Duration::from_secs(10), || la.is_leader()).await;

    // The outage outlasts the Lease: the leader must stop writing, then
    // wait quietly instead of retrying in a loop.
    let outage = Duration::from_secs(10);
    proxy.cut();
    let (cpu_before, lines_before) = (thread_cpu(), lines.count());
    let cut = Instant::now();
    while cut.elapsed() < outage {
        if cut.elapsed() > Duration::from_secs(LEASE_SECONDS) {
            assert!(
                !la.is_leader(),
                "a leads {:?} into the outage",
                cut.elapsed()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let cpu = thread_cpu() - cpu_before;
    let (all, election) = lines.count();
    let (all, election) = (all - lines_before.0, election - lines_before.1);
    eprintln!(
        "during a {outage:?} outage: {cpu:?} of CPU, {all} log lines ({election} of the election)"
    );
    assert!(
        cpu < Duration::from_millis(500),
        "the outage cost {cpu:?} of CPU"
    );
    // The first failure of each call, and stopping to write.
    assert!(election <= 5, "the election logged {election} lines");
    // One line per failed request, and the requests back off.
    assert!(all <= 25, "the outage logged {all} lines");

    // Back again: the replica takes the Lease again, and writes only after
    // a confirming read one retry period after its renewal.
    proxy.heal();
    let healed = Instant::now();
    let healed_wall = Timestamp::now();
    let leases = ns.api::<Lease>();
    let mut renewed = None;
    let leads = loop {
        if la.is_leader() {
            break healed.elapsed();
        }
        if renewed.is_none() {
            let spec = leases.get(LEASE).await.must("read the Lease").spec;
            let ours =
                spec.as_ref().and_then(|s| s.holder_identity.as_deref()) == Some("replica-a");
            let fresh = spec
                .and_then(|s| s.renew_time)
                .is_some_and(|t| t.0 > healed_wall);
            if ours && fresh {
                renewed = Some(healed.elapsed());
            }
        }
        assert!(
            healed.elapsed() < Duration::from_secs(4 * LEASE_SECONDS),
            "a never led again"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let renewed = renewed.expect("the renewal is seen before writes resume");
    eprintln!("after the outage: Lease renewed at {renewed:?}, writes resumed at {leads:?}");
    let retry = config(ns.name(), "replica-a").retry_period;
    assert!(
        leads >= renewed + retry - Duration::from_millis(100),
        "writes resumed {:?} after the renewal, before a confirming read",
        leads - renewed
    );
    assert_eq!(holder(&ns).await.as_deref(), Some("replica-a"));
    a.release().await.must("release");
}
