//! Generated files stay in step with their sources, and the examples render.

use kube::CustomResourceExt;
use shoal_operator::crd::CacheCluster;
use shoal_operator::render::{desired, Inputs};
use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[test]
fn crd_files_match_the_rust_types() {
    let want = serde_yaml::to_string(&CacheCluster::crd()).unwrap();
    for path in [
        "crds/cacheclusters.shoal.dev.yaml",
        "charts/shoal-operator/crds/cacheclusters.shoal.dev.yaml",
    ] {
        let got = std::fs::read_to_string(root().join(path)).unwrap();
        assert!(
            got == want,
            "{path} is out of date: run scripts/render-manifests"
        );
    }
}

#[test]
fn examples_render() {
    let dir = root().join("operator/examples");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") {
            let mut cc: CacheCluster =
                serde_yaml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            cc.metadata
                .namespace
                .get_or_insert_with(|| "default".into());
            let d = desired(&cc, &Inputs::default())
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert_eq!(d.stateful_sets.len() as i32, cc.spec.shards);
            n += 1;
        }
    }
    assert!(n >= 2, "expected the minimal and production examples");
}
