//! What the runner derives from a pod spec, apart from any I/O: the process's
//! environment and arguments, where its volumes go, its probe target and the
//! hosts file that gives pods their stable names.

use k8s_openapi::api::core::v1::{Container, Pod, Probe};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Why a pod cannot be run here.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SpecError {
    #[error("no binary is configured for image {0:?} (--image PATTERN=PATH)")]
    UnknownImage(String),
    #[error("the pod has {0} containers; the runner runs exactly one")]
    Containers(usize),
    #[error("field {0:?} is not supported in fieldRef")]
    Field(String),
    #[error("probe port {0:?} is not a port of the container")]
    Port(String),
}

/// Kubernetes' `$(VAR)` expansion of args and env values: a defined variable
/// is replaced, `$$` is a literal `$`, anything else stays as written.
pub fn expand(s: &str, env: &BTreeMap<String, String>) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if let Some(after) = tail.strip_prefix("$$") {
            out.push('$');
            rest = after;
        } else if let Some(inner) = tail.strip_prefix("$(") {
            match inner.find(')') {
                Some(end) if env.contains_key(&inner[..end]) => {
                    out.push_str(&env[&inner[..end]]);
                    rest = &inner[end + 1..];
                }
                _ => {
                    out.push_str("$(");
                    rest = inner;
                }
            }
        } else {
            out.push('$');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    out
}

/// A `fieldRef` value, as the kubelet's downward API gives it.
pub fn field(pod: &Pod, pod_ip: &str, host_ip: &str, path: &str) -> Result<String, SpecError> {
    let meta = &pod.metadata;
    let spec = pod.spec.as_ref();
    let label = |prefix: &str, map: Option<&BTreeMap<String, String>>| {
        path.strip_prefix(prefix)
            .and_then(|k| k.strip_prefix("['").and_then(|k| k.strip_suffix("']")))
            .map(|k| map.and_then(|m| m.get(k)).cloned().unwrap_or_default())
    };
    if let Some(v) = label("metadata.labels", meta.labels.as_ref()) {
        return Ok(v);
    }
    if let Some(v) = label("metadata.annotations", meta.annotations.as_ref()) {
        return Ok(v);
    }
    Ok(match path {
        "metadata.name" => meta.name.clone().unwrap_or_default(),
        "metadata.namespace" => meta.namespace.clone().unwrap_or_default(),
        "metadata.uid" => meta.uid.clone().unwrap_or_default(),
        "spec.nodeName" => spec.and_then(|s| s.node_name.clone()).unwrap_or_default(),
        "spec.serviceAccountName" => spec
            .and_then(|s| s.service_account_name.clone())
            .unwrap_or_default(),
        "status.podIP" | "status.podIPs" => pod_ip.to_string(),
        "status.hostIP" | "status.hostIPs" => host_ip.to_string(),
        other => return Err(SpecError::Field(other.to_string())),
    })
}

/// The one container, or why the pod is refused.
pub fn container(pod: &Pod) -> Result<&Container, SpecError> {
    let containers = pod.spec.as_ref().map(|s| &s.containers[..]).unwrap_or(&[]);
    match containers {
        [c] => Ok(c),
        other => Err(SpecError::Containers(other.len())),
    }
}

/// The binary standing in for an image: the first `PATTERN=PATH` whose
/// pattern the image reference contains.
pub fn binary(images: &[(String, PathBuf)], image: &str) -> Result<PathBuf, SpecError> {
    images
        .iter()
        .find(|(pattern, _)| image.contains(pattern.as_str()))
        .map(|(_, path)| path.clone())
        .ok_or_else(|| SpecError::UnknownImage(image.to_string()))
}

/// Where a probe connects, and for HTTP the path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Http {
        port: u16,
        path: String,
    },
    Tcp {
        port: u16,
    },
    /// An exec or gRPC probe: the runner treats a running process as passing.
    Running,
}

/// The probe's target, resolving a named port against the container's ports.
pub fn target(c: &Container, p: &Probe) -> Result<Target, SpecError> {
    let port = |p: &IntOrString| -> Result<u16, SpecError> {
        match p {
            IntOrString::Int(n) => u16::try_from(*n).map_err(|_| SpecError::Port(n.to_string())),
            IntOrString::String(name) => c
                .ports
                .iter()
                .flatten()
                .find(|cp| cp.name.as_deref() == Some(name))
                .and_then(|cp| u16::try_from(cp.container_port).ok())
                .ok_or_else(|| SpecError::Port(name.clone())),
        }
    };
    if let Some(h) = &p.http_get {
        return Ok(Target::Http {
            port: port(&h.port)?,
            path: h.path.clone().unwrap_or_else(|| "/".into()),
        });
    }
    if let Some(t) = &p.tcp_socket {
        return Ok(Target::Tcp {
            port: port(&t.port)?,
        });
    }
    Ok(Target::Running)
}

/// Quotes a word for `sh`.
pub fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// How a pod's process starts: `unshare` with these arguments, then `-c`,
/// [`mount_script`], `pod` ($0), the binary and its arguments.
pub const UNSHARE: [&str; 5] = ["--mount", "--propagation", "private", "--", "/bin/bash"];

/// The bash script run in the pod's own mount namespace before its binary:
/// the shared hosts file over `/etc/hosts`, then every volume bound at its
/// mount path, shallowest first (so `/data/tls` lands inside `/data`, not
/// under it), read-only ones remounted so at the end; then `exec "$@"`. Every
/// source is opened first and bound through `/proc/self/fd`, so no mount
/// (`/tmp` over a runner directory under `/tmp`) can hide a source still to
/// be bound.
pub fn mount_script(mounts: &[(PathBuf, String, bool)], hosts: &Path) -> String {
    let mut sorted: Vec<_> = mounts.iter().collect();
    sorted.sort_by_key(|(_, dst, _)| dst.matches('/').count());
    let mut script = String::from("set -e\n");
    script.push_str(&format!("exec 3<{}\n", quote(&hosts.display().to_string())));
    for (i, (src, _, _)) in sorted.iter().enumerate() {
        script.push_str(&format!(
            "exec {}<{}\n",
            10 + i,
            quote(&src.display().to_string())
        ));
    }
    script.push_str("mount --no-canonicalize --bind /proc/self/fd/3 /etc/hosts\n");
    for (i, (_, dst, _)) in sorted.iter().enumerate() {
        let dst = quote(dst);
        script.push_str(&format!(
            "mkdir -p {dst}\nmount --no-canonicalize --bind /proc/self/fd/{} {dst}\n",
            10 + i
        ));
    }
    for (_, dst, read_only) in &sorted {
        if *read_only {
            script.push_str(&format!("mount -o remount,bind,ro {}\n", quote(dst)));
        }
    }
    script.push_str("exec 3<&-");
    for i in 0..sorted.len() {
        script.push_str(&format!(" {}<&-", 10 + i));
    }
    script.push_str("\nexec \"$@\"\n");
    script
}

/// A pod's names in the hosts file: its hostname and, with a subdomain (the
/// headless Service a StatefulSet names), `<host>.<subdomain>.<ns>.svc` and
/// the same under `cluster.local`, as cluster DNS serves them.
pub fn host_names(pod: &Pod) -> Vec<String> {
    let spec = pod.spec.as_ref();
    let name = pod.metadata.name.clone().unwrap_or_default();
    let host = spec.and_then(|s| s.hostname.clone()).unwrap_or(name);
    let mut names = Vec::new();
    if let (Some(sub), Some(ns)) = (
        spec.and_then(|s| s.subdomain.clone()),
        pod.metadata.namespace.as_ref(),
    ) {
        names.push(format!("{host}.{sub}.{ns}.svc"));
        names.push(format!("{host}.{sub}.{ns}.svc.cluster.local"));
    }
    names.push(host);
    names
}

/// The hosts file for the given `(ip, names)`, newest pod first so that a
/// pod replaced under the same name resolves to its new address.
pub fn hosts_file(entries: &[(String, Vec<String>)]) -> String {
    let mut out = String::from("127.0.0.1\tlocalhost\n::1\tlocalhost\n");
    for (ip, names) in entries {
        out.push_str(&format!("{ip}\t{}\n", names.join(" ")));
    }
    out
}

/// Hands out pod addresses P.Q.X.Y in a /16 the machine routes locally,
/// never the same twice while in use.
#[derive(Debug)]
pub struct Addresses {
    prefix: [u8; 2],
    base: u8,
    next: u32,
    used: std::collections::BTreeSet<u32>,
}

impl Addresses {
    /// Addresses from `prefix`.`base`.1 upwards.
    pub fn new(prefix: [u8; 2], base: u8) -> Self {
        Addresses {
            prefix,
            base,
            next: 0,
            used: Default::default(),
        }
    }

    pub fn take(&mut self) -> Option<String> {
        let span = (255 - u32::from(self.base)) * 254;
        for _ in 0..span {
            let n = self.next % span;
            self.next = self.next.wrapping_add(1);
            if self.used.insert(n) {
                return Some(self.show(n));
            }
        }
        None
    }

    pub fn give_back(&mut self, ip: &str) {
        let octets: Vec<u32> = ip.split('.').filter_map(|o| o.parse().ok()).collect();
        let [p, q] = self.prefix.map(u32::from);
        if let [a, b, x, y] = octets[..] {
            if a == p && b == q && x >= u32::from(self.base) && (1..=254).contains(&y) {
                self.used
                    .remove(&((x - u32::from(self.base)) * 254 + y - 1));
            }
        }
    }

    fn show(&self, n: u32) -> String {
        let [p, q] = self.prefix;
        format!("{p}.{q}.{}.{}", u32::from(self.base) + n / 254, n % 254 + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod() -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "c-shard-0-1", "namespace": "ns", "uid": "u1",
                         "labels": {"app": "shoal"}},
            "spec": {"hostname": "c-shard-0-1", "subdomain": "c-nodes", "nodeName": "n1",
                     "containers": [{"name": "node", "image": "ghcr.io/x/shoal-node:1",
                        "ports": [{"name": "admin", "containerPort": 9090}]}]}
        }))
        .unwrap()
    }

    #[test]
    fn expansion_follows_kubernetes() {
        let env = BTreeMap::from([("A".to_string(), "x".to_string())]);
        assert_eq!(expand("$(A)-$(B)-$$(A)-$", &env), "x-$(B)-$(A)-$");
        assert_eq!(expand("$(A", &env), "$(A");
        assert_eq!(expand("plain", &env), "plain");
    }

    #[test]
    fn fields_come_from_the_pod() {
        let p = pod();
        assert_eq!(
            field(&p, "127.0.1.1", "127.0.0.1", "metadata.name").unwrap(),
            "c-shard-0-1"
        );
        assert_eq!(
            field(&p, "127.0.1.1", "127.0.0.1", "status.podIP").unwrap(),
            "127.0.1.1"
        );
        assert_eq!(
            field(&p, "", "", "metadata.labels['app']").unwrap(),
            "shoal"
        );
        assert_eq!(field(&p, "", "", "metadata.labels['none']").unwrap(), "");
        assert!(field(&p, "", "", "spec.bogus").is_err());
    }

    #[test]
    fn names_and_hosts() {
        assert_eq!(
            host_names(&pod()),
            [
                "c-shard-0-1.c-nodes.ns.svc",
                "c-shard-0-1.c-nodes.ns.svc.cluster.local",
                "c-shard-0-1"
            ]
        );
        let f = hosts_file(&[("127.0.1.1".into(), vec!["a".into(), "b".into()])]);
        assert!(f.ends_with("127.0.1.1\ta b\n"), "{f}");
    }

    #[test]
    fn probes_resolve_named_ports() {
        let p = pod();
        let c = container(&p).unwrap();
        let probe: Probe =
            serde_json::from_value(json!({"httpGet": {"path": "/readyz", "port": "admin"}}))
                .unwrap();
        assert_eq!(
            target(c, &probe).unwrap(),
            Target::Http {
                port: 9090,
                path: "/readyz".into()
            }
        );
        let probe: Probe = serde_json::from_value(json!({"tcpSocket": {"port": "nope"}})).unwrap();
        assert_eq!(target(c, &probe), Err(SpecError::Port("nope".into())));
    }

    #[test]
    fn images_map_to_binaries() {
        let images = vec![("shoal-node".to_string(), PathBuf::from("/bin/node"))];
        assert_eq!(
            binary(&images, "ghcr.io/x/shoal-node:1").unwrap(),
            PathBuf::from("/bin/node")
        );
        assert!(binary(&images, "nginx").is_err());
    }

    #[test]
    fn mounts_nest_and_never_hide_a_source() {
        let src = |p: &str| PathBuf::from(p);
        let s = mount_script(
            &[
                (src("/tmp/r/tls"), "/data/tls".into(), true),
                (src("/tmp/r/tmp"), "/tmp".into(), false),
                (src("/tmp/r/pvc"), "/data".into(), false),
            ],
            Path::new("/r/hosts"),
        );
        // Sources opened before anything is mounted, bound through their fds.
        let first_mount = s.find("mount ").unwrap();
        assert!(s.find("exec 12<'/tmp/r/tls'").unwrap() < first_mount, "{s}");
        assert!(s.contains("--bind /proc/self/fd/12 '/data/tls'"), "{s}");
        // Parents before children.
        assert!(
            s.find(" '/data'\n").unwrap() < s.find(" '/data/tls'\n").unwrap(),
            "{s}"
        );
        assert!(s.contains("remount,bind,ro '/data/tls'"));
        assert!(s.ends_with("exec \"$@\"\n"));
        assert_eq!(quote("a'b"), r"'a'\''b'");
    }

    /// The script really does that, in a mount namespace of its own (skipped,
    /// saying so, where namespaces are not allowed).
    #[test]
    fn the_mount_script_runs() {
        let base = std::env::temp_dir().join(format!("podrunner-spec-{}", std::process::id()));
        let (vol, nested, hosts) = (base.join("vol"), base.join("nested"), base.join("hosts"));
        std::fs::create_dir_all(&vol).unwrap();
        std::fs::create_dir_all(&nested).unwrap();
        std::fs::write(nested.join("f"), "nested").unwrap();
        std::fs::write(&hosts, "10.244.0.9 peer\n").unwrap();
        let target = base.join("mnt");
        let script = mount_script(
            &[
                (nested.clone(), format!("{}/inner", target.display()), true),
                (vol.clone(), target.display().to_string(), false),
            ],
            &hosts,
        );
        let probe = format!("cat {0}/inner/f; grep -c peer /etc/hosts", target.display());
        let allowed = std::process::Command::new("unshare")
            .args(["--mount", "--propagation", "private", "true"])
            .status()
            .is_ok_and(|s| s.success());
        if !allowed {
            let _ = std::fs::remove_dir_all(&base);
            eprintln!("SKIPPED the_mount_script_runs: this machine refuses mount namespaces");
            return;
        }
        let out = std::process::Command::new("unshare")
            .args(UNSHARE)
            .args(["-c", &script, "pod"])
            .args(["/bin/bash", "-c", &probe])
            .output()
            .unwrap();
        let _ = std::fs::remove_dir_all(&base);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&out.stdout), "nested1\n");
    }

    #[test]
    fn addresses_are_unique_until_given_back() {
        let mut a = Addresses::new([10, 244], 10);
        let x = a.take().unwrap();
        let y = a.take().unwrap();
        assert_eq!((x.as_str(), y.as_str()), ("10.244.10.1", "10.244.10.2"));
        // A freed address is not handed out again soon (a new pod never gets
        // the address of one just deleted), only once the range wraps.
        a.give_back(&x);
        let next: Vec<_> = (0..300).filter_map(|_| a.take()).collect();
        assert!(!next.contains(&x) && !next.contains(&y));
        assert!(next.contains(&"10.244.11.1".to_string()));
        let mut small = Addresses::new([10, 244], 254);
        let all: Vec<_> = std::iter::from_fn(|| small.take()).collect();
        assert_eq!(all.len(), 254);
        small.give_back("10.244.254.7");
        assert_eq!(small.take().as_deref(), Some("10.244.254.7"));
        assert_eq!(small.take(), None);
    }
}
