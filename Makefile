# readyroll. `make demo` and `make test` are the two commands of the README.
SHELL := bash
.SHELLFLAGS := -euo pipefail -c

CLUSTER_SCRIPTS := e2e/cluster

.PHONY: demo test fuzz binaries cluster-up cluster-down crds test-chart test-versions install-operator uninstall-operator test-node test-chaos test-chaos-api-outage chaos-cases test-pm2-canonical bench-report bench-scale bench-zero-downtime

# Sets everything up and rolls the sample App on the local cluster, under traffic.
demo:
	scripts/demo.sh

# Every test tier, in order (scripts/test.sh says which tier shows what).
test:
	scripts/test.sh

# The property tests ("fuzzing", docs/fuzzing.md) at length: FUZZ_CASES cases per property
# instead of the bounded count `make test` runs. Optimised, since the cases dominate.
FUZZ_CASES ?= 20000
fuzz:
	PROPTEST_CASES=$(FUZZ_CASES) cargo test --release -p readyroll-core --test properties
	PROPTEST_CASES=$(FUZZ_CASES) cargo test --release -p readyroll --lib convert::properties
	PROPTEST_CASES=$(FUZZ_CASES) cargo test --release -p readyroll-core --lib properties

# Builds the pinned kubernetes, etcd, kwok and helm binaries (reused when already built).
binaries:
	$(CLUSTER_SCRIPTS)/build-binaries.sh

# Starts (or reuses) the local cluster; the last line printed is the admin kubeconfig.
cluster-up: binaries
	$(CLUSTER_SCRIPTS)/up.sh

# Stops every process of the local cluster and discards its state.
cluster-down:
	$(CLUSTER_SCRIPTS)/down.sh

# Regenerates the CRD YAML from the Rust types: crds/ and the chart's copy in files/, which
# templates/crds.yaml renders (a test fails when either is stale).
crds:
	cargo run -q -p readyroll -- crd > crds/apps.readyroll.dev.yaml.tmp
	mv crds/apps.readyroll.dev.yaml.tmp crds/apps.readyroll.dev.yaml
	cp crds/apps.readyroll.dev.yaml charts/readyroll/files/apps.readyroll.dev.yaml


# The Helm chart as the pinned helm renders it: lint, values, RBAC, security settings, schema,
# alerts (checked by the pinned promtool) and the dashboard.
test-chart:
	$(CLUSTER_SCRIPTS)/build-binaries.sh helm promtool
	cargo test -p readyroll-e2e --test chart_render -- --ignored

# The API tier once more on the newest supported Kubernetes (KUBERNETES_NEWEST_VERSION), in
# a second, kwok-only cluster beside the main one that is stopped afterwards (make test runs
# it at the end of its api tier).
test-versions:
	scripts/test-versions.sh

# Installs the operator into the local cluster with its Helm chart, from its offline image.
install-operator:
	e2e/install-operator.sh

# Removes it again (the App CRD stays).
uninstall-operator:
	e2e/install-operator.sh --uninstall

# The real-node tier: the operator installed in the cluster owns every App (no in-process
# controller). One test at a time, so the load measurements do not compete for the CPUs.
# The operator is uninstalled afterwards, pass or fail: it watches every namespace and would
# otherwise also reconcile the Apps of the tiers that run their own controllers.
NODE_TESTS := $(patsubst e2e/tests/%.rs,--test %,$(sort $(wildcard e2e/tests/node_*.rs)))
test-node: install-operator
	status=0; \
	KUBECONFIG="$$(source $(CLUSTER_SCRIPTS)/env.sh && echo "$$KUBECONFIG")" \
	  cargo test -p readyroll-e2e $(NODE_TESTS) -- --ignored --test-threads=1 \
	    || status=$$?; \
	e2e/install-operator.sh --uninstall; \
	exit $$status

# The chaos tier: faults in the middle of rollouts under load, on the real node (chaos.rs).
# The operator runs as two replicas with short Leases, so that a takeover fits the budget.
# Whatever a case stops (the API server, the kubelet) is started again by the case; the
# restore afterwards repairs what a killed test binary could not, then the operator goes.
# READYROLL_CHAOS_KILL_ROLLOUTS (default 20) and READYROLL_CHAOS_SEED tune the SIGKILL case.
CHAOS_OPERATOR := --set replicas=2 --set leaderElection.leaseDurationSeconds=8 \
  --set leaderElection.renewBeforeSeconds=5
# test-chaos-api-outage runs the API outage case alone (the one most sensitive to timing).
CHAOS_API_OUTAGE := case_7_the_api_server_stopped_for_30_s_mid_rollout
test-chaos:
	$(MAKE) --no-print-directory chaos-cases CHAOS_ARGS=
test-chaos-api-outage:
	$(MAKE) --no-print-directory chaos-cases CHAOS_ARGS="--exact $(CHAOS_API_OUTAGE)"
chaos-cases:
	e2e/install-operator.sh $(CHAOS_OPERATOR)
	status=0; \
	KUBECONFIG="$$(source $(CLUSTER_SCRIPTS)/env.sh && echo "$$KUBECONFIG")" \
	  cargo test -p readyroll-e2e --test chaos -- --ignored --test-threads=1 $(CHAOS_ARGS) \
	  || status=$$?; \
	$(CLUSTER_SCRIPTS)/chaos.sh restore || status=$$?; \
	e2e/install-operator.sh --uninstall; \
	exit $$status

# The node tier's zero-downtime tests with their baselines: the same application as a plain
# Deployment and as an Argo Rollouts Rollout (its controller built from its Go module) rolled
# through the same steps under the same load (about 20 minutes more than the node tier
# spends on them), then the generated sections of BENCHMARKS.md rewritten.
# make test leaves the baselines out: they compare, they assert nothing about readyroll.
bench-zero-downtime: install-operator
	$(CLUSTER_SCRIPTS)/build-binaries.sh argo-rollouts
	status=0; \
	READYROLL_NODE_BASELINES=1 \
	KUBECONFIG="$$(source $(CLUSTER_SCRIPTS)/env.sh && echo "$$KUBECONFIG")" \
	ARGO_ROLLOUTS_BIN="$$(source $(CLUSTER_SCRIPTS)/env.sh && echo "$$ARGO_ROLLOUTS_BIN")" \
	ARGO_ROLLOUTS_VERSION="$$(source $(CLUSTER_SCRIPTS)/env.sh && echo "$$ARGO_ROLLOUTS_VERSION")" \
	GOMODCACHE="$$(source $(CLUSTER_SCRIPTS)/env.sh && echo "$$CACHE/go/mod")" \
	  cargo test -p readyroll-e2e --test node_zero_downtime --test node_shim -- --ignored \
	    --test-threads=1 || status=$$?; \
	e2e/install-operator.sh --uninstall; \
	[[ $$status == 0 ]] && $(MAKE) --no-print-directory bench-report; \
	exit $$status

# PM2's canonical ecosystem entry, converted, rolled 10 times under load (the node tier runs
# it with the rest of node_pm2; this runs it alone).
PM2_CANONICAL := the_canonical_example_converted_rolls_ten_times_without_a_failed_request
test-pm2-canonical: install-operator
	status=0; \
	KUBECONFIG="$$(source $(CLUSTER_SCRIPTS)/env.sh && echo "$$KUBECONFIG")" \
	  cargo test -p readyroll-e2e --test node_pm2 -- --ignored --exact $(PM2_CANONICAL) \
	  || status=$$?; \
	e2e/install-operator.sh --uninstall; \
	exit $$status

# The scale benchmark (e2e/tests/node_scale.rs; the node tier runs it small): for each N of
# SCALE_APPS, N one-instance Apps on kwok nodes beside N plain Deployments, with the
# operator installed by the chart, then the same for N Argo Rollouts `Rollout`s with its
# controller (pinned in e2e/versions.env, built here) as a local process
# (e2e/tests/scale_argo_rollouts.rs); then the scale section of BENCHMARKS.md is
# rewritten. Hours at 10,000 on two CPUs, so not part of `make test`.
SCALE_APPS ?= 500 2000 10000
SCALE_EDITS ?= 200
SCALE_IDLE_SECONDS ?= 300
SCALE_TESTS ?= node_scale scale_argo_rollouts
bench-scale: install-operator
	$(CLUSTER_SCRIPTS)/build-binaries.sh argo-rollouts
	status=0; \
	for n in $(SCALE_APPS); do \
	  for t in $(SCALE_TESTS); do \
	    READYROLL_SCALE_APPS=$$n READYROLL_SCALE_EDITS=$(SCALE_EDITS) \
	    READYROLL_SCALE_IDLE_SECONDS=$(SCALE_IDLE_SECONDS) \
	    KUBECONFIG="$$(source $(CLUSTER_SCRIPTS)/env.sh && echo "$$KUBECONFIG")" \
	    ARGO_ROLLOUTS_BIN="$$(source $(CLUSTER_SCRIPTS)/env.sh && echo "$$ARGO_ROLLOUTS_BIN")" \
	    ARGO_ROLLOUTS_VERSION="$$(source $(CLUSTER_SCRIPTS)/env.sh && echo "$$ARGO_ROLLOUTS_VERSION")" \
	    GOMODCACHE="$$(source $(CLUSTER_SCRIPTS)/env.sh && echo "$$CACHE/go/mod")" \
	      cargo test -p readyroll-e2e --test $$t -- --ignored --nocapture \
	      || { status=$$?; break 2; }; \
	  done; \
	done; \
	e2e/install-operator.sh --uninstall; \
	[[ $$status == 0 ]] && $(MAKE) --no-print-directory bench-report BENCH_REPORT_SCALE=scale; \
	exit $$status

# Rewrites the generated sections of BENCHMARKS.md from the records kept in
# benchmarks/records, after the records of the last run (node tier, benchmarks) have replaced
# those of the same tests there: a run of some tests leaves the others' results standing, and
# the document can be regenerated from what is committed. Scale records are taken only from
# `make bench-scale` (BENCH_REPORT_SCALE=scale): the node tier's small smoke run writes one
# too, and it is a check, not a result to publish.
BENCH_RECORDS := benchmarks/records
BENCH_REPORT_SCALE ?=
bench-report:
	results="$${READYROLL_BENCH_DIR:-$$(cargo metadata --format-version 1 --no-deps | jq -r .target_directory)/tmp/readyroll-bench}"; \
	mkdir -p $(BENCH_RECORDS)/scale; \
	for sub in . $(BENCH_REPORT_SCALE); do \
	  if [[ -d "$$results/$$sub" ]]; then \
	    find "$$results/$$sub" -maxdepth 1 -name '*.json' -exec cp -t $(BENCH_RECORDS)/$$sub {} +; \
	  fi; \
	done; \
	cargo run -q -p readyroll-e2e --bin bench-report -- --results $(BENCH_RECORDS) --update BENCHMARKS.md
