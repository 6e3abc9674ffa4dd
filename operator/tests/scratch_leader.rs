use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{DeleteParams, ObjectMeta, PostParams};
use kube::{Api, Client};
use readyroll::leader::{LeaderConfig, LeaderElection};

fn config(ns: &str, id: &str) -> LeaderConfig {
    LeaderConfig {
        lease_duration_secs: 4,
        renew_before_secs: 2,
        retry_period: Duration::from_millis(500),
        max_clock_skew: Duration::from_millis(1000),
        ..LeaderConfig::new(ns, id)
    }
}

#[tokio::test]
async fn scratch() {
    let client = Client::try_default().await.unwrap();
    let ns = format!("scratch-leader-{}", std::process::id());
    Api::<Namespace>::all(client.clone()).create(&PostParams::default(), &Namespace{metadata: ObjectMeta{name: Some(ns.clone()), ..Default::default()}, ..Default::default()}).await.unwrap();
    let a = LeaderElection::start(client.clone(), config(&ns, "a")).await.unwrap();
    let b = LeaderElection::start(client.clone(), config(&ns, "b")).await.unwrap();
    let (la, lb) = (a.leadership(), b.leadership());
    let t0 = Instant::now();
    while !(la.is_leader() || lb.is_leader()) { tokio::time::sleep(Duration::from_millis(10)).await; assert!(t0.elapsed() < Duration::from_secs(10)); }
    println!("first leader after {:?}: a={} b={}", t0.elapsed(), la.is_leader(), lb.is_leader());
    // observe for 10s: never both
    let t1 = Instant::now();
    let mut flips = 0; let mut last = la.is_leader();
    while t1.elapsed() < Duration::from_secs(10) {
        assert!(!(la.is_leader() && lb.is_leader()));
        if la.is_leader() != last { flips += 1; last = la.is_leader(); }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    println!("flips in 10s: {flips}, a={} b={}", la.is_leader(), lb.is_leader());
    let (leader, standby_l) = if la.is_leader() { (a, lb.clone()) } else { (b, la.clone()) };
    let t2 = Instant::now();
    leader.release().await.unwrap();
    println!("release took {:?}", t2.elapsed());
    while !standby_l.is_leader() { tokio::time::sleep(Duration::from_millis(10)).await; assert!(t2.elapsed() < Duration::from_secs(10)); }
    println!("standby took over after {:?}", t2.elapsed());
    Api::<Namespace>::all(client).delete(&ns, &DeleteParams::default()).await.unwrap();
}
