# Local Kubernetes for the end-to-end tests. See e2e/cluster/.
SHELL := bash
.SHELLFLAGS := -euo pipefail -c

CLUSTER_SCRIPTS := e2e/cluster

.PHONY: binaries cluster-up cluster-down test-e2e crds test-chart

# Builds the pinned kubernetes, etcd, kwok and helm binaries (reused when already built).
binaries:
	$(CLUSTER_SCRIPTS)/build-binaries.sh

# Starts (or reuses) the local cluster; the last line printed is the admin kubeconfig.
cluster-up: binaries
	$(CLUSTER_SCRIPTS)/up.sh

# Stops every process of the local cluster and discards its state.
cluster-down:
	$(CLUSTER_SCRIPTS)/down.sh

# End-to-end tests against the local cluster (started if needed).
test-e2e:
	kubeconfig="$$($(CLUSTER_SCRIPTS)/up.sh | tail -n 1)"; \
	READYROLL_E2E=1 KUBECONFIG="$$kubeconfig" cargo test -p readyroll-e2e

# Regenerates the CRD YAML from the Rust types: crds/ and the chart's copy (a test fails when
# either is stale).
crds:
	cargo run -q -p readyroll -- crd > crds/apps.readyroll.dev.yaml.tmp
	mv crds/apps.readyroll.dev.yaml.tmp crds/apps.readyroll.dev.yaml
	cp crds/apps.readyroll.dev.yaml charts/readyroll/crds/apps.readyroll.dev.yaml


# The Helm chart as the pinned helm renders it: lint, values, RBAC, security settings, schema.
test-chart:
	$(CLUSTER_SCRIPTS)/build-binaries.sh helm
	READYROLL_E2E=1 cargo test -p readyroll-e2e --test chart_render
