use std::os::unix::fs::PermissionsExt;

use serde_json::{Value, json};

use super::*;

fn new_store(quota: u64) -> (tempfile::TempDir, SandboxStore) {
    let dir = tempfile::TempDir::new().unwrap();
    let store = SandboxStore::new(dir.path(), quota);
    (dir, store)
}

/// What the sandbox gets: the wire JSON of a store answer.
fn wire(answer: impl serde::Serialize) -> Value {
    serde_json::to_value(answer).unwrap()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// A value `depth` arrays deep holding `width` zeros at the bottom.
fn nested(depth: usize, width: usize) -> Value {
    let mut value = Value::Array(vec![json!(0); width]);
    for _ in 0..depth {
        value = Value::Array(vec![value]);
    }
    value
}

#[test]
fn keys_are_sanitised_and_cannot_escape() {
    assert_eq!(memory_key(" a b/../c ").as_deref(), Some("a_b____c"));
    assert_eq!(memory_key("ok-key_1").as_deref(), Some("ok-key_1"));
    assert_eq!(memory_key("   "), None);
    assert_eq!(memory_key(&"x".repeat(300)).map(|k| k.len()), Some(100));
    assert!(!is_identifier("../evil"));
    assert!(!is_identifier("1st"));
    assert!(!is_identifier(&"a".repeat(101)));
    assert!(is_identifier("_double2"));
}

#[test]
fn memory_round_trip_keeps_the_creation_time() {
    let (_dir, store) = new_store(64 << 20);
    let saved = store
        .save_memory("k", &json!({"a": 1}), &Value::Null)
        .unwrap();
    assert_eq!(saved.message, "Memory 'k' saved.");
    assert!(!saved.found);
    let created = wire(store.memory_info("k").unwrap().0)["created_at"].clone();
    let again = store
        .save_memory("k", &json!(2), &json!({"tag": "x"}))
        .unwrap();
    assert!(again.found);
    let (info, bytes) = store.memory_info("k").unwrap();
    let info = wire(info);
    assert_eq!(bytes, again.bytes);
    assert_eq!(info["created_at"], created);
    assert_eq!(info["metadata"]["tag"], "x");
    assert_eq!(info["key"], "k");
    assert!(info.get("value").is_none());
    assert_eq!(
        wire(store.load_memory("k").unwrap().0),
        json!({"found": true, "value": 2})
    );
    assert_eq!(
        wire(store.load_memory("nope").unwrap()),
        json!([{"found": false}, 0])
    );
    assert_eq!(store.memory_info("nope").unwrap(), (None, 0));
    assert_eq!(
        store.delete_memory("k").unwrap().message,
        "Memory 'k' deleted."
    );
    assert_eq!(
        store.delete_memory("k").unwrap().message,
        "Memory 'k' not found."
    );
    assert!(store.save_memory(" ", &json!(1), &Value::Null).is_err());
}

#[test]
fn entries_are_compact_private_files_in_private_directories() {
    let (dir, store) = new_store(64 << 20);
    // Pretty-printed, each zero would sit on its own line behind ~240 bytes of indentation: ~100 MB.
    let value = nested(120, 200_000);
    let saved = store.save_memory("deep", &value, &value).unwrap();
    let path = dir.path().join("user_tools/memory/deep.json");
    let on_disk = std::fs::read(&path).unwrap();
    assert_eq!(on_disk.len() as u64, saved.bytes);
    assert!(on_disk.len() <= MAX_ENTRY_BYTES, "{} bytes", on_disk.len());
    assert!(!on_disk.contains(&b'\n'), "written pretty");
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(&dir.path().join("user_tools")), 0o700);
    assert_eq!(mode(&dir.path().join("user_tools/memory")), 0o700);
    store.save_tool("f", "def f():\n    pass\n").unwrap();
    assert_eq!(mode(&dir.path().join("user_tools/f.py")), 0o600);
    // No temporary file is left behind.
    let names: Vec<String> = std::fs::read_dir(dir.path().join("user_tools/memory"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["deep.json"]);
}

#[test]
fn the_whole_entry_is_capped_metadata_included() {
    let (dir, store) = new_store(64 << 20);
    let half = json!("x".repeat(MAX_ENTRY_BYTES / 2));
    let refused = store.save_memory("big", &half, &half).unwrap_err();
    assert!(
        refused.starts_with("Memory value too large: the entry 'big'"),
        "{refused}"
    );
    assert!(
        refused.ends_with("the limit is 1048576 bytes per entry"),
        "{refused}"
    );
    assert!(!dir.path().join("user_tools/memory/big.json").exists());
    // Just under the cap is fine, and is what lands on disk.
    let fits = json!("x".repeat(MAX_ENTRY_BYTES - 200));
    let saved = store.save_memory("big", &fits, &Value::Null).unwrap();
    assert!(saved.bytes <= MAX_ENTRY_BYTES as u64);
}

#[test]
fn the_quota_covers_entries_and_tools_together() {
    let (_dir, store) = new_store(10_000);
    store
        .save_memory("a", &json!("x".repeat(6_000)), &Value::Null)
        .unwrap();
    let refused = store.save_tool("t", &"#".repeat(5_000)).unwrap_err();
    assert!(
        refused.starts_with("Store quota exceeded: saving tool 't'"),
        "{refused}"
    );
    assert!(
        refused.contains("MCP_BRIDGE_STORE_QUOTA (10000 bytes)"),
        "{refused}"
    );
    let refused = store
        .save_memory("b", &json!("y".repeat(5_000)), &Value::Null)
        .unwrap_err();
    assert!(
        refused.starts_with("Store quota exceeded: saving memory 'b'"),
        "{refused}"
    );
    // Replacing an entry counts only the difference.
    store
        .save_memory("a", &json!("x".repeat(9_000)), &Value::Null)
        .unwrap();
    // Deleting frees room.
    store.delete_memory("a").unwrap();
    store.save_tool("t", &"#".repeat(5_000)).unwrap();
}

#[test]
fn the_number_of_entries_is_capped() {
    let (dir, store) = new_store(64 << 20);
    store.save_memory("k0", &json!(0), &Value::Null).unwrap();
    let memory = dir.path().join("user_tools/memory");
    for n in 1..MAX_MEMORY_ENTRIES {
        std::fs::write(memory.join(format!("k{n}.json")), "{}").unwrap();
    }
    let full = store
        .save_memory("new", &json!(1), &Value::Null)
        .unwrap_err();
    assert!(full.starts_with("Memory is full (1000 entries"), "{full}");
    // Replacing an entry that exists still works.
    store.save_memory("k0", &json!(2), &Value::Null).unwrap();
}

#[test]
fn listing_is_paged_by_count_and_by_size() {
    let (_dir, store) = new_store(1 << 30);
    for n in 0..250 {
        store
            .save_memory(&format!("k{n:03}"), &json!(n), &json!({"n": n}))
            .unwrap();
    }
    let first = wire(store.list_memories(0));
    let entries = first["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 100);
    assert_eq!(entries[0]["key"], "k000");
    assert!(entries[0].get("value").is_none());
    assert_eq!(first["next"], 100);
    let last = wire(store.list_memories(200));
    assert_eq!(last["entries"].as_array().unwrap().len(), 50);
    assert_eq!(last["next"], Value::Null);
    assert_eq!(
        wire(store.list_memories(10_000)),
        json!({"entries": [], "next": null})
    );
    // Entries with big metadata: a page stays under ~1 MiB, and always holds one.
    let (_dir, store) = new_store(1 << 30);
    let metadata = json!("m".repeat(400_000));
    for n in 0..5 {
        store
            .save_memory(&format!("m{n}"), &Value::Null, &metadata)
            .unwrap();
    }
    let mut cursor = 0;
    let mut pages = 0;
    loop {
        let page = wire(store.list_memories(cursor));
        let size = page.to_string().len();
        assert!(size <= LIST_PAGE_BYTES + 100, "{size}");
        assert!(!page["entries"].as_array().unwrap().is_empty());
        pages += 1;
        match page["next"].as_u64() {
            Some(next) => cursor = next as usize,
            None => break,
        }
    }
    assert_eq!(pages, 3);
}

#[test]
fn tools_are_saved_loaded_listed_and_deleted_by_name() {
    let (_dir, store) = new_store(64 << 20);
    store
        .save_tool("double", "def double(x):\n    return 2 * x\n")
        .unwrap();
    let replaced = store
        .save_tool("double", "def double(x):\n    return x + x\n")
        .unwrap();
    assert!(replaced.found);
    store
        .save_tool("add", "def add(a, b):\n    return a + b\n")
        .unwrap();
    assert!(store.save_tool("../evil", "x").is_err());
    assert_eq!(
        store.load_tool("double").unwrap(),
        "def double(x):\n    return x + x\n"
    );
    let listed = store.list_tools();
    assert_eq!(
        listed.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(),
        ["add", "double"]
    );
    assert_eq!(listed[1].bytes, 32);
    assert!(listed[1].saved_at.ends_with('Z'), "{}", listed[1].saved_at);
    assert_eq!(
        store.load_tool("nope").unwrap_err(),
        "No saved tool named 'nope'; saved tools: add, double"
    );
    assert!(store.load_tool("../../etc/passwd").is_err());
    assert_eq!(
        store.delete_tool("add").unwrap().message,
        "Tool 'add' deleted."
    );
    assert_eq!(
        store.delete_tool("add").unwrap().message,
        "Tool 'add' not found."
    );
    let too_big = store
        .save_tool("huge", &"#".repeat(MAX_TOOL_SOURCE_BYTES + 1))
        .unwrap_err();
    assert!(
        too_big.ends_with("the limit is 262144 bytes per tool"),
        "{too_big}"
    );
}
