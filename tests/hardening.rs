//! Every hardening fact, asserted from inside a real container started by the bridge.

mod common;

use mcp_bridge::response::Status;

const PROBE: &str = r#"
import json, os, socket
facts = {"uid": os.getuid(), "gid": os.getgid(), "euid": os.geteuid(), "cwd": os.getcwd(),
         "home": os.environ.get("HOME"), "env": sorted(os.environ)}
for line in open("/proc/self/status"):
    key, _, value = line.partition(":")
    if key in ("CapEff", "CapPrm", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp"):
        facts[key] = value.strip()
try:
    socket.create_connection(("1.1.1.1", 53), timeout=3)
    facts["network"] = "reachable"
except OSError as e:
    facts["network"] = e.errno
facts["ifaces"] = [name for _, name in socket.if_nameindex()]
facts["netns"] = os.readlink("/proc/self/ns/net")
listener = socket.create_server(("127.0.0.1", 0))
with socket.create_connection(listener.getsockname(), timeout=3) as client:
    client.sendall(b"ping")
    facts["loopback"] = listener.accept()[0].recv(4).decode()
def try_write(path):
    try:
        with open(path, "w") as f:
            f.write("x")
        return "ok"
    except OSError as e:
        return e.errno
facts["write_usr"] = try_write("/usr/bridge-test")
facts["write_root"] = try_write("/bridge-test")
facts["write_tmp"] = try_write("/tmp/t")
facts["write_workspace"] = try_write("/workspace/t")
facts["write_home"] = try_write(os.path.expanduser("~/t"))
mounts = []
for line in open("/proc/self/mountinfo"):
    left, _, right = line.partition(" - ")
    fields = left.split()
    mounts.append({"root": fields[3], "point": fields[4], "opts": fields[5], "fstype": right.split()[0]})
facts["mounts"] = mounts
import resource
facts["core"] = list(resource.getrlimit(resource.RLIMIT_CORE))
facts["nofile"] = list(resource.getrlimit(resource.RLIMIT_NOFILE))
try:
    os.open("/proc/1/fd/2", os.O_WRONLY)
    facts["pid1_stderr"] = "writable"
except OSError as e:
    facts["pid1_stderr"] = e.errno
facts["pid1_cmdline"] = open("/proc/1/cmdline", "rb").read().split(b"\0")[:4]
facts["pid1_cmdline"] = [part.decode() for part in facts["pid1_cmdline"]]
print(json.dumps(facts))
"#;

#[tokio::test]
#[ignore = "needs a Docker engine and the sandbox image: run scripts/test, or cargo test -- --include-ignored"]
async fn the_sandbox_is_locked_down() {
    common::engine().await;
    let bridge = common::bridge(&[]);
    let response = common::run(&bridge, PROBE, 30).await;
    assert_eq!(
        response.payload.status,
        Status::Success,
        "{:?}",
        response.payload
    );
    let facts: serde_json::Value = serde_json::from_str(&response.payload.stdout.join("")).unwrap();

    assert_eq!(facts["uid"], 65534, "runs as nobody");
    assert_eq!(facts["gid"], 65534);
    assert_eq!(facts["euid"], 65534);
    for key in ["CapEff", "CapPrm", "CapBnd", "CapAmb"] {
        assert_eq!(facts[key], "0000000000000000", "{key}: no capabilities");
    }
    assert_eq!(facts["NoNewPrivs"], "1");
    assert_eq!(facts["Seccomp"], "2", "a seccomp filter is active");
    assert_eq!(facts["network"], 101, "ENETUNREACH: no network");
    assert_eq!(facts["ifaces"], serde_json::json!(["lo"]));
    assert_eq!(facts["loopback"], "ping", "loopback is up");
    let host_netns = std::fs::read_link("/proc/self/ns/net").expect("the test's network namespace");
    assert_ne!(
        facts["netns"].as_str(),
        host_netns.to_str(),
        "a network namespace of its own"
    );
    assert_eq!(facts["write_usr"], 30, "EROFS: read-only root");
    assert!(
        facts["write_root"] == 30 || facts["write_root"] == 13,
        "{}",
        facts["write_root"]
    );
    assert_eq!(
        facts["write_tmp"], "ok",
        "/tmp writable by the sandbox user"
    );
    assert_eq!(
        facts["write_workspace"], "ok",
        "/workspace writable by the sandbox user"
    );
    assert_eq!(facts["write_home"], "ok", "HOME writable");
    assert_eq!(facts["cwd"], "/workspace");
    assert_eq!(facts["home"], "/workspace");
    assert_eq!(facts["core"], serde_json::json!([0, 0]), "no core dumps");
    assert_eq!(facts["nofile"], serde_json::json!([1024, 1024]));
    // PID 1 is the bridge's bootstrap (not the image's entrypoint), and the code cannot reach its stderr,
    // where the exit record goes (PROTOCOL.md §1).
    assert_eq!(
        facts["pid1_cmdline"],
        serde_json::json!(["python3", "-I", "-B", "-c"])
    );
    assert_eq!(facts["pid1_stderr"], 13, "EACCES: PID 1 is not dumpable");

    // Nothing from the host's environment reaches the code.
    let env: Vec<String> = serde_json::from_value(facts["env"].clone()).unwrap();
    let allowed = [
        "HOME",
        "HOSTNAME",
        "LANG",
        "PATH",
        "PYTHONIOENCODING",
        "LC_CTYPE",
    ];
    for name in &env {
        assert!(
            allowed.contains(&name.as_str()),
            "unexpected variable {name} in {env:?}"
        );
    }

    // No host mounts: the only bind mounts are the three files the engine itself manages.
    let engine_files = ["/etc/hosts", "/etc/hostname", "/etc/resolv.conf"];
    for mount in facts["mounts"].as_array().unwrap() {
        let point = mount["point"].as_str().unwrap();
        let fstype = mount["fstype"].as_str().unwrap();
        let root = mount["root"].as_str().unwrap();
        let virtual_fs = [
            "overlay", "proc", "tmpfs", "devpts", "mqueue", "sysfs", "cgroup", "cgroup2",
        ];
        let bind_of_host_dir = !virtual_fs.contains(&fstype) && root != "/";
        if bind_of_host_dir {
            assert!(
                engine_files.contains(&point),
                "host mount at {point}: {mount}"
            );
        }
        if ["/tmp", "/workspace"].contains(&point) {
            assert_eq!(fstype, "tmpfs");
            let opts = mount["opts"].as_str().unwrap();
            assert!(
                opts.contains("noexec") && opts.contains("nosuid") && opts.contains("nodev"),
                "{mount}"
            );
        }
        if point == "/" {
            assert!(
                mount["opts"]
                    .as_str()
                    .unwrap()
                    .split(',')
                    .any(|o| o == "ro"),
                "root is read-only: {mount}"
            );
        }
    }
    common::finish(&bridge).await;
}
