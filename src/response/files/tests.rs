use super::*;

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0\x90wS\xde";

fn attach(name: &str, data: &[u8]) -> Attach {
    Attach {
        name: name.into(),
        data: Some(BASE64.encode(data)),
        size: None,
    }
}

#[test]
fn images_are_judged_by_their_bytes_and_the_rest_by_the_name() {
    assert_eq!(media_type("plot.png", PNG), "image/png");
    assert_eq!(media_type("no-extension", PNG), "image/png");
    assert_eq!(
        media_type("photo.jpg", b"\xff\xd8\xff\xe0\0\x10JFIF"),
        "image/jpeg"
    );
    // A name cannot make text an image.
    assert_eq!(media_type("fake.png", b"not a png"), "text/plain");
    assert_eq!(
        media_type("fake.png", b"\0\x01\x02"),
        "application/octet-stream"
    );
    assert_eq!(media_type("data.csv", b"a,b\n1,2\n"), "text/csv");
    assert_eq!(media_type("report.json", b"{}"), "application/json");
    let svg = b"<?xml version=\"1.0\"?>\n<!-- made by hand -->\n<svg xmlns=\"http://www.w3.org/2000/svg\"/>";
    assert_eq!(media_type("chart.svg", svg), "image/svg+xml");
    assert_eq!(media_type("chart", svg), "image/svg+xml");
    assert_eq!(media_type("page.html", b"<html><svg/></html>"), "text/html");
}

#[test]
fn names_are_relative_paths_without_tricks() {
    for good in ["plot.png", "plots/a b.png", "é.csv", "..hidden", "a/..b"] {
        assert_eq!(checked_name(good).as_deref(), Ok(good));
    }
    for (bad, why) in [
        ("", "is empty"),
        ("/etc/passwd", "is absolute"),
        ("../x", "'..' component"),
        ("a//b", "empty"),
        ("a/./b", "'.'"),
        ("a\nb", "control characters"),
        ("a\u{1b}[31m", "control characters"),
    ] {
        let error = checked_name(bad).unwrap_err();
        assert!(error.contains(why), "{bad:?}: {error}");
    }
    assert!(
        checked_name(&"x".repeat(256))
            .unwrap_err()
            .contains("255 bytes")
    );
    assert!(
        checked_name(&["a"; 17].join("/"))
            .unwrap_err()
            .contains("16 components")
    );
}

#[test]
fn limits_leave_files_out_with_the_reason_and_keep_the_rest() {
    let files = AttachedFiles::with_limits(10, 25);
    let reply = files.attach(attach("a.txt", b"0123456789")).unwrap();
    assert!(reply.attached, "{reply:?}");
    assert_eq!(reply.mime_type.as_deref(), Some("text/plain"));
    let reply = files.attach(attach("big.txt", b"01234567890")).unwrap();
    assert!(!reply.attached);
    assert!(reply.reason.unwrap().contains("MCP_BRIDGE_MAX_ATTACHMENT"));
    files.attach(attach("b.txt", b"0123456789")).unwrap();
    let reply = files.attach(attach("c.txt", b"0123456789")).unwrap();
    assert!(reply.reason.unwrap().contains("MCP_BRIDGE_MAX_ATTACHMENTS"));
    // Too large for a frame: only the size comes, and the file is listed as left out.
    let reply = files
        .attach(Attach {
            name: "huge.bin".into(),
            data: None,
            size: Some(9 << 20),
        })
        .unwrap();
    assert!(!reply.attached);
    // The same name again replaces the earlier file, and frees its bytes.
    assert!(files.attach(attach("a.txt", b"01234")).unwrap().attached);
    assert!(files.attach(attach("d.txt", b"01234")).unwrap().attached);
    let (taken, unlisted) = files.take();
    assert_eq!(unlisted, 0);
    let names: Vec<_> = taken.iter().map(|f| f.info.name.as_str()).collect();
    assert_eq!(
        names,
        ["big.txt", "b.txt", "c.txt", "huge.bin", "a.txt", "d.txt"]
    );
    let note = note(&taken, 0).unwrap();
    assert!(
        note.starts_with("attached: b.txt (text/plain, 10 B), a.txt (text/plain, 5 B), d.txt"),
        "{note}"
    );
    assert!(
        note.contains(" — not attached: big.txt: 11 B is over the per-file limit of 10 B"),
        "{note}"
    );
    assert!(files.take().0.is_empty());
}

#[test]
fn bad_requests_are_errors_and_keep_nothing() {
    let files = AttachedFiles::with_limits(100, 100);
    let error = files
        .attach(Attach {
            name: "a.png".into(),
            data: Some("not base64!".into()),
            size: None,
        })
        .unwrap_err();
    assert!(error.contains("not base64"), "{error}");
    let error = files
        .attach(Attach {
            name: "a.png".into(),
            data: None,
            size: None,
        })
        .unwrap_err();
    assert!(error.contains("'size'"), "{error}");
    assert!(files.attach(attach("../a.png", PNG)).is_err());
    assert!(files.take().0.is_empty());
}

#[test]
fn the_count_is_limited_and_the_listing_too() {
    let files = AttachedFiles::with_limits(100, 1 << 20);
    for i in 0..100 {
        files.attach(attach(&format!("f{i}.txt"), b"x")).unwrap();
    }
    let (taken, unlisted) = files.take();
    assert_eq!(taken.iter().filter(|f| f.data.is_some()).count(), MAX_FILES);
    assert_eq!(taken.len(), MAX_LISTED);
    assert_eq!(unlisted, 100 - MAX_LISTED as u64);
    assert!(note(&taken, unlisted).unwrap().ends_with("and 36 more"));
}

#[test]
fn content_is_image_for_images_and_resources_for_the_rest() {
    let files = AttachedFiles::with_limits(1 << 20, 1 << 20);
    files.attach(attach("plot.png", PNG)).unwrap();
    files
        .attach(attach("out dir/data.csv", b"a,b\n1,2\n"))
        .unwrap();
    files.attach(attach("blob.bin", b"\0\xff")).unwrap();
    let (taken, _) = files.take();
    let blocks = serde_json::to_value(content("r1", &taken)).unwrap();
    assert_eq!(blocks[0]["type"], "image");
    assert_eq!(blocks[0]["mimeType"], "image/png");
    assert_eq!(blocks[0]["data"], BASE64.encode(PNG));
    assert_eq!(blocks[1]["type"], "resource");
    assert_eq!(
        blocks[1]["resource"]["uri"],
        "mcp-bridge://runs/r1/out%20dir/data.csv"
    );
    assert_eq!(blocks[1]["resource"]["mimeType"], "text/csv");
    assert_eq!(blocks[1]["resource"]["text"], "a,b\n1,2\n");
    assert_eq!(blocks[2]["resource"]["blob"], BASE64.encode(b"\0\xff"));
    assert_eq!(
        blocks[2]["resource"]["mimeType"],
        "application/octet-stream"
    );
}
