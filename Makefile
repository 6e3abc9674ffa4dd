.PHONY: crds

# Regenerate the CRD YAML from the Rust types (a test fails when it is stale).
crds:
	cargo run -q -p readyroll -- crd > crds/apps.readyroll.dev.yaml.tmp
	mv crds/apps.readyroll.dev.yaml.tmp crds/apps.readyroll.dev.yaml
