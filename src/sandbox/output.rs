//! Bounded capture of one output stream: the head and the tail are kept, the middle is cut with a marker that
//! says how much was cut. Memory stays flat however much the code prints.

/// Keeps the first `head_cap` and the last `tail_cap` bytes of a stream.
pub struct BoundedOutput {
    name: &'static str,
    head: String,
    tail: String,
    head_cap: usize,
    tail_cap: usize,
    /// Bytes that went through the tail and were dropped from its front.
    cut: u64,
}

impl BoundedOutput {
    /// A capture for stream `name` keeping at most `budget` bytes (three quarters head, one quarter tail).
    pub fn new(name: &'static str, budget: usize) -> Self {
        let tail_cap = budget / 4;
        BoundedOutput {
            name,
            head: String::new(),
            tail: String::new(),
            head_cap: budget - tail_cap,
            tail_cap,
            cut: 0,
        }
    }

    /// Appends a chunk.
    pub fn push(&mut self, mut text: &str) {
        if self.cut == 0 && self.tail.is_empty() {
            let room = self.head_cap.saturating_sub(self.head.len());
            let take = floor_char_boundary(text, room.min(text.len()));
            self.head.push_str(&text[..take]);
            text = &text[take..];
        }
        if text.is_empty() {
            return;
        }
        self.tail.push_str(text);
        // Trim only when the tail doubles, so appending stays amortised O(1).
        if self.tail.len() > 2 * self.tail_cap.max(1) {
            let excess = self.tail.len() - self.tail_cap;
            let cut_at = ceil_char_boundary(&self.tail, excess);
            self.tail.drain(..cut_at);
            self.cut += cut_at as u64;
        }
    }

    /// The kept text, with a marker where bytes were cut.
    pub fn finish(mut self) -> String {
        if self.tail.len() > self.tail_cap {
            let excess = self.tail.len() - self.tail_cap;
            let cut_at = ceil_char_boundary(&self.tail, excess);
            self.tail.drain(..cut_at);
            self.cut += cut_at as u64;
        }
        if self.cut == 0 {
            self.head.push_str(&self.tail);
            return self.head;
        }
        let mut text = self.head;
        if !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(&format!(
            "[mcp-bridge: {} bytes of {} cut here; raise MCP_BRIDGE_MAX_OUTPUT to keep more]\n",
            self.cut, self.name
        ));
        text.push_str(&self.tail);
        text
    }
}

fn floor_char_boundary(text: &str, mut index: usize) -> usize {
    while index > 0 && !text.is_char_boundary(index) {
        index -= 1;
    }
    index
}

fn ceil_char_boundary(text: &str, mut index: usize) -> usize {
    while index < text.len() && !text.is_char_boundary(index) {
        index += 1;
    }
    index
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_output_is_untouched() {
        let mut out = BoundedOutput::new("stdout", 100);
        out.push("hello ");
        out.push("world\n");
        assert_eq!(out.finish(), "hello world\n");
    }

    #[test]
    fn large_output_keeps_head_and_tail_and_says_how_much_was_cut() {
        let mut out = BoundedOutput::new("stdout", 400);
        for i in 0..10_000 {
            out.push(&format!("line {i}\n"));
        }
        let text = out.finish();
        assert!(text.starts_with("line 0\nline 1\n"), "{text}");
        assert!(text.ends_with("line 9999\n"), "{text}");
        let total: usize = (0..10_000).map(|i| format!("line {i}\n").len()).sum();
        // ASCII text: exactly 300 head bytes and 100 tail bytes are kept.
        let marker = format!("[mcp-bridge: {} bytes of stdout cut here", total - 400);
        assert!(text.contains(&marker), "{text}");
        assert!(text.len() < 600);
    }

    #[test]
    fn cuts_respect_character_boundaries() {
        let mut out = BoundedOutput::new("stderr", 10);
        for _ in 0..100 {
            out.push("ééé");
        }
        let text = out.finish();
        assert!(text.contains("cut here"));
    }
}
