//! Finding the JSON-RPC `id` of a message while streaming over it, without keeping the message.
//!
//! An oversized line from an upstream server is discarded as it arrives, but the request waiting for it must
//! still be failed, so the discarding reader feeds every byte of the line through an [`IdScanner`]. The
//! scanner tracks just enough JSON structure (depth, strings, escapes, and where it is in the top-level
//! object) to capture the value of the top-level `id` key, wherever it appears: the TypeScript SDK writes
//! `{"result":…,"jsonrpc":"2.0","id":7}`, so the id may follow megabytes of result, and `"id"` keys nested
//! inside that result must not be mistaken for it. Its memory is a few fixed-size fields whatever the input.
//!
//! Keys are compared as written: an escaped spelling such as `"i\u0064"` is not taken for `id` (no SDK writes
//! one, and a server that does only loses its own reply).

use serde_json::Value;

/// The longest raw id (quotes and escapes included) kept; a longer one is unusable. Our own ids are integers.
const MAX_ID_BYTES: usize = 128;

/// Keys of interest are short; a longer key is simply "some other key".
const MAX_KEY_BYTES: usize = 8;

/// What an oversized message turned out to be, once its line has ended.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Scanned {
    /// A well-formed object with a usable top-level `id` and no `method`: a response (or error) to our
    /// request `id`.
    Response(Value),
    /// A request or notification from the server (it has a top-level `method`): its `id`, if any, is in the
    /// server's id space, not ours.
    FromServer,
    /// No usable id: not an object, malformed, no `id`, an id that is not an integer or a short string, or
    /// the `id` key twice.
    Unusable,
}

/// Where the scanner is inside the top-level object (only meaningful outside strings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum At {
    /// Before the top-level value.
    Start,
    /// Expecting a key (or `}` after `{`).
    Key,
    /// After a key, expecting `:`.
    Colon,
    /// After `:`, expecting a value.
    Value,
    /// Inside a scalar value (number, `true`, `null`, …) at depth 1.
    Scalar,
    /// After a value, expecting `,` or `}`.
    AfterValue,
    /// After the closing `}`: only whitespace may follow.
    End,
    /// Not an object, or malformed: nothing more is learnt from this line.
    Broken,
}

/// Which top-level key's value is being read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Id,
    Method,
    Other,
}

/// A streaming finder of a JSON object's top-level `id` (see the module docs). Feed it the bytes of one line
/// in any number of pieces, then ask [`IdScanner::finish`].
#[derive(Debug)]
pub(crate) struct IdScanner {
    at: At,
    depth: u32,
    in_string: bool,
    escaped: bool,
    field: Field,
    key: [u8; MAX_KEY_BYTES],
    key_len: usize,
    key_long: bool,
    /// The raw text of the `id` value while and after it is read.
    id: Vec<u8>,
    id_done: bool,
    id_bad: bool,
    has_method: bool,
}

impl Default for IdScanner {
    fn default() -> Self {
        IdScanner {
            at: At::Start,
            depth: 0,
            in_string: false,
            escaped: false,
            field: Field::Other,
            key: [0; MAX_KEY_BYTES],
            key_len: 0,
            key_long: false,
            id: Vec::new(),
            id_done: false,
            id_bad: false,
            has_method: false,
        }
    }
}

impl IdScanner {
    /// Ready for the next line (keeps the id buffer's small allocation).
    pub(crate) fn reset(&mut self) {
        let mut id = std::mem::take(&mut self.id);
        id.clear();
        *self = IdScanner {
            id,
            ..IdScanner::default()
        };
    }

    /// Reading a key string at depth 1.
    fn in_key(&self) -> bool {
        self.depth == 1 && self.at == At::Key
    }

    /// Reading the `id` value (string or scalar) at depth 1.
    fn in_id_value(&self) -> bool {
        self.depth == 1 && self.field == Field::Id && matches!(self.at, At::Value | At::Scalar)
    }

    /// Scans the next bytes of the line (without its newline).
    pub(crate) fn feed(&mut self, bytes: &[u8]) {
        let mut i = 0;
        while i < bytes.len() {
            if self.at == At::Broken {
                return;
            }
            if self.in_string {
                let capturing = self.in_key() || self.in_id_value();
                if !capturing && !self.escaped {
                    // Fast path through string contents nobody needs.
                    match bytes[i..].iter().position(|&b| b == b'"' || b == b'\\') {
                        Some(offset) => i += offset,
                        None => return,
                    }
                }
                let b = bytes[i];
                i += 1;
                if capturing {
                    self.capture_string_byte(b);
                }
                if self.escaped {
                    self.escaped = false;
                } else if b == b'\\' {
                    self.escaped = true;
                } else if b == b'"' {
                    self.in_string = false;
                    self.string_ended();
                }
                continue;
            }
            let b = bytes[i];
            i += 1;
            self.structural(b);
        }
    }

    /// A byte inside a key or the id string (the closing quote included, the opening one already kept).
    fn capture_string_byte(&mut self, b: u8) {
        if self.at == At::Key {
            if b == b'"' && !self.escaped {
                return;
            }
            if self.key_len < MAX_KEY_BYTES {
                self.key[self.key_len] = b;
                self.key_len += 1;
            } else {
                self.key_long = true;
            }
        } else {
            self.push_id(b);
        }
    }

    fn push_id(&mut self, b: u8) {
        if self.id.len() < MAX_ID_BYTES {
            self.id.push(b);
        } else {
            self.id_bad = true;
        }
    }

    /// A string ended at the current depth.
    fn string_ended(&mut self) {
        if self.depth != 1 {
            return;
        }
        match self.at {
            At::Key => {
                let key = if self.key_long {
                    &b""[..]
                } else {
                    &self.key[..self.key_len]
                };
                self.field = match key {
                    b"id" => {
                        if self.id_done {
                            self.id_bad = true; // the key twice: which one a parser keeps is anyone's guess
                        }
                        self.id.clear();
                        Field::Id
                    }
                    b"method" => {
                        self.has_method = true;
                        Field::Method
                    }
                    _ => Field::Other,
                };
                self.at = At::Colon;
            }
            At::Value => {
                if self.field == Field::Id {
                    self.id_done = true;
                }
                self.at = At::AfterValue;
            }
            _ => self.at = At::Broken,
        }
    }

    /// A byte outside strings.
    fn structural(&mut self, b: u8) {
        let whitespace = matches!(b, b' ' | b'\t' | b'\r' | b'\n');
        if self.depth >= 2 {
            match b {
                b'"' => self.in_string = true,
                b'{' | b'[' => self.depth += 1,
                b'}' | b']' => {
                    self.depth -= 1;
                    if self.depth == 1 {
                        self.at = At::AfterValue;
                    }
                }
                _ => {}
            }
            return;
        }
        if self.at == At::Scalar {
            if whitespace || b == b',' || b == b'}' {
                if self.field == Field::Id {
                    self.id_done = true;
                }
                self.at = At::AfterValue;
                // `,` and `}` still act below.
            } else {
                if self.field == Field::Id {
                    self.push_id(b);
                }
                return;
            }
        }
        if whitespace {
            return;
        }
        self.at = match (self.at, b) {
            (At::Start, b'{') => {
                self.depth = 1;
                At::Key
            }
            (At::Key, b'"') => {
                self.in_string = true;
                self.key_len = 0;
                self.key_long = false;
                At::Key
            }
            (At::Key, b'}') | (At::AfterValue, b'}') => {
                self.depth = 0;
                At::End
            }
            (At::Colon, b':') => At::Value,
            (At::Value, b'"') => {
                self.in_string = true;
                if self.field == Field::Id {
                    self.push_id(b);
                }
                At::Value
            }
            (At::Value, b'{' | b'[') => {
                if self.field == Field::Id {
                    self.id_bad = true;
                }
                self.depth = 2;
                At::Value
            }
            (At::Value, b',' | b':' | b'}' | b']') => At::Broken,
            (At::Value, _) => {
                if self.field == Field::Id {
                    self.push_id(b);
                }
                At::Scalar
            }
            (At::AfterValue, b',') => At::Key,
            _ => At::Broken,
        };
    }

    /// What the line was, once it has ended.
    pub(crate) fn finish(&self) -> Scanned {
        if self.at != At::End {
            return Scanned::Unusable;
        }
        if self.has_method {
            return Scanned::FromServer;
        }
        if !self.id_done || self.id_bad {
            return Scanned::Unusable;
        }
        match serde_json::from_slice::<Value>(&self.id) {
            Ok(Value::Number(n)) if n.is_i64() || n.is_u64() => Scanned::Response(Value::Number(n)),
            Ok(Value::String(s)) => Scanned::Response(Value::String(s)),
            _ => Scanned::Unusable,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn scan_in_pieces(line: &str, piece: usize) -> Scanned {
        let mut scanner = IdScanner::default();
        for chunk in line.as_bytes().chunks(piece.max(1)) {
            scanner.feed(chunk);
        }
        scanner.finish()
    }

    /// Every split of the line gives the same answer as reading it whole.
    fn scan(line: &str) -> Scanned {
        let whole = scan_in_pieces(line, line.len());
        for piece in [1, 2, 3, 5, 7, 64] {
            assert_eq!(
                scan_in_pieces(line, piece),
                whole,
                "pieces of {piece}: {line}"
            );
        }
        whole
    }

    #[test]
    fn the_id_before_or_after_the_result_is_found() {
        assert_eq!(
            scan(r#"{"jsonrpc":"2.0","id":7,"result":{"content":[]}}"#),
            Scanned::Response(json!(7))
        );
        assert_eq!(
            scan(
                r#"{"result":{"content":[{"type":"text","text":"xxxx"}]},"jsonrpc":"2.0","id":7}"#
            ),
            Scanned::Response(json!(7))
        );
        assert_eq!(
            scan(r#"{"error":{"code":-1,"message":"m"},"id":12}"#),
            Scanned::Response(json!(12))
        );
        assert_eq!(
            scan(" { \"result\" : [ 1 , 2 ] , \"id\" : 3 } \r"),
            Scanned::Response(json!(3))
        );
    }

    #[test]
    fn nested_id_keys_inside_the_result_are_not_the_id() {
        let line = r#"{"result":{"id":999,"rows":[{"id":1},{"id":"two"}],"structuredContent":{"id":{"id":5}}},"id":42}"#;
        assert_eq!(scan(line), Scanned::Response(json!(42)));
        // Only a nested one: no usable id.
        assert_eq!(scan(r#"{"result":{"id":999}}"#), Scanned::Unusable);
    }

    #[test]
    fn escaped_quotes_in_strings_do_not_end_them() {
        // The text holds `","id":666,"x":"` — escaped, so it is part of the string, not keys.
        let line = r#"{"result":{"text":"\",\"id\":666,\"x\":\"\\"},"id":8}"#;
        assert_eq!(scan(line), Scanned::Response(json!(8)));
        // A backslash escaping a backslash does not escape the quote after it.
        let line = r#"{"result":"a\\","id":9}"#;
        assert_eq!(scan(line), Scanned::Response(json!(9)));
        // Keys with escapes are not `id`.
        assert_eq!(scan(r#"{"i\u0064":5,"result":1}"#), Scanned::Unusable);
    }

    #[test]
    fn string_ids_are_kept_with_their_escapes_decoded() {
        assert_eq!(
            scan(r#"{"result":{},"id":"req-1"}"#),
            Scanned::Response(json!("req-1"))
        );
        assert_eq!(
            scan(r#"{"id":"a\"b\\c","result":{}}"#),
            Scanned::Response(json!("a\"b\\c"))
        );
        let long = format!(r#"{{"id":"{}","result":{{}}}}"#, "x".repeat(MAX_ID_BYTES));
        assert_eq!(scan(&long), Scanned::Unusable);
    }

    #[test]
    fn ids_that_are_not_integers_or_strings_are_unusable() {
        for id in ["null", "1.5", "1e3", "true", "[1]", "{\"id\":1}", "-"] {
            let line = format!(r#"{{"result":{{}},"id":{id}}}"#);
            assert_eq!(scan(&line), Scanned::Unusable, "{line}");
        }
        assert_eq!(
            scan(r#"{"id":-3,"result":{}}"#),
            Scanned::Response(json!(-3))
        );
    }

    #[test]
    fn requests_and_notifications_from_the_server_are_not_responses() {
        assert_eq!(
            scan(
                r#"{"params":{"x":"y"},"id":3,"jsonrpc":"2.0","method":"sampling/createMessage"}"#
            ),
            Scanned::FromServer
        );
        assert_eq!(
            scan(r#"{"jsonrpc":"2.0","method":"notifications/message","params":{}}"#),
            Scanned::FromServer
        );
    }

    #[test]
    fn garbage_and_malformed_lines_have_no_usable_id() {
        for line in [
            "",
            "garbage",
            "[1,2,3]",
            r#"{"id":1,"result":{}"#,   // never closed
            r#"{"id":1,"result":{}}x"#, // trailing bytes
            r#"{"id":1 "result":{}}"#,  // missing comma
            r#"{"id"::1}"#,
            r#"{"id":1,"id":2,"result":{}}"#, // the key twice
            r#""id""#,
        ] {
            assert_eq!(scan(line), Scanned::Unusable, "{line:?}");
        }
    }

    #[test]
    fn reset_forgets_the_previous_line() {
        let mut scanner = IdScanner::default();
        scanner.feed(br#"{"id":1,"result":{"#);
        scanner.reset();
        scanner.feed(br#"{"result":{},"id":2}"#);
        assert_eq!(scanner.finish(), Scanned::Response(json!(2)));
    }

    /// A small deterministic generator (xorshift), so the cross-check needs no extra crate.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self, below: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % below
        }

        fn string(&mut self) -> String {
            const PIECES: &[&str] = &[
                "id", "\"", "\\", "\\\"", "{", "}", "[", "]", ":", ",", "é", "\n", " ", "x",
            ];
            (0..self.next(6))
                .map(|_| PIECES[self.next(PIECES.len() as u64) as usize])
                .collect()
        }

        fn value(&mut self, depth: u32) -> Value {
            match if depth > 3 {
                self.next(3)
            } else {
                self.next(5)
            } {
                0 => json!(self.next(1000)),
                1 => json!(self.string()),
                2 => json!(null),
                3 => Value::Array((0..self.next(4)).map(|_| self.value(depth + 1)).collect()),
                _ => {
                    let mut object = serde_json::Map::new();
                    for _ in 0..self.next(4) {
                        let key = if self.next(3) == 0 {
                            "id".to_string()
                        } else {
                            self.string()
                        };
                        object.insert(key, self.value(depth + 1));
                    }
                    Value::Object(object)
                }
            }
        }
    }

    #[test]
    fn agrees_with_a_json_parser_on_generated_messages() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        for _ in 0..2000 {
            let id = if rng.next(2) == 0 {
                json!(rng.next(1 << 40))
            } else {
                json!(rng.string())
            };
            let is_request = rng.next(4) == 0;
            // Top-level keys in a random order, the id anywhere among them.
            let mut entries = vec![
                ("jsonrpc".to_string(), json!("2.0")),
                ("result".to_string(), rng.value(0)),
                (rng.string() + "_", rng.value(0)),
            ];
            if is_request {
                entries.push(("method".to_string(), json!("sampling/createMessage")));
            }
            let at = rng.next(entries.len() as u64 + 1) as usize;
            entries.insert(at, ("id".to_string(), id.clone()));
            let body: Vec<String> = entries
                .iter()
                .map(|(k, v)| format!("{}:{}", json!(k), v))
                .collect();
            let line = format!("{{{}}}", body.join(","));
            let expected = if is_request {
                Scanned::FromServer
            } else {
                Scanned::Response(id)
            };
            let piece = 1 + rng.next(40) as usize;
            assert_eq!(scan_in_pieces(&line, piece), expected, "{line}");
            // The same line cut short is never taken for a complete message.
            let mut cut = rng.next(line.len() as u64) as usize;
            while !line.is_char_boundary(cut) {
                cut -= 1;
            }
            assert_eq!(scan_in_pieces(&line[..cut], piece), Scanned::Unusable);
        }
    }

    #[test]
    fn a_huge_result_costs_no_memory() {
        let mut scanner = IdScanner::default();
        scanner.feed(br#"{"result":{"content":[{"type":"text","text":""#);
        let chunk = vec![b'x'; 1 << 20];
        for _ in 0..64 {
            scanner.feed(&chunk);
        }
        scanner.feed(br#""}]},"jsonrpc":"2.0","id":77}"#);
        assert_eq!(scanner.finish(), Scanned::Response(json!(77)));
        assert!(scanner.id.capacity() <= MAX_ID_BYTES);
    }
}
