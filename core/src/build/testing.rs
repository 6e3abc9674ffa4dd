//! Builders shared by the core's unit tests; the Nodes come from the testkit,
//! which the public-API tests of the build use too.

use crate::crd::{App, AppSpec};

pub use readyroll_testkit::nodes::{node, quantities, with_labels, with_taint};

/// An App as the API server hands it over: named, namespaced, with a uid.
pub fn app(spec: AppSpec) -> App {
    let mut app = App::new("web", spec);
    app.metadata.namespace = Some("shop".into());
    app.metadata.uid = Some("0b5e0a8c-6c1e-4a3e-9d1f-1f2e3d4c5b6a".into());
    app
}

/// The smallest spec `build` accepts.
pub fn spec() -> AppSpec {
    AppSpec {
        image: "registry.example/web:1.4.2".into(),
        ..Default::default()
    }
}
