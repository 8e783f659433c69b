//! Line numbers for error messages: where a key or a byte offset stands in a TOML text.

/// The 1-based line of the byte at `offset`.
pub(crate) fn line_at(text: &str, offset: usize) -> usize {
    text.get(..offset).map_or(1, |head| head.matches('\n').count() + 1)
}

/// The line of `section.key = ...` in a TOML text, found by its `[section]` header (or a
/// top-level `key`); for a `section` itself, the line of its header.
pub(crate) fn line_of_key(text: &str, dotted: &str) -> Option<usize> {
    let (section, leaf) = dotted.rsplit_once('.').unwrap_or(("", dotted));
    let mut current = String::new();
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if let Some(header) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            current = header.trim().to_string();
            if current == dotted {
                return Some(index + 1);
            }
            continue;
        }
        if current == section {
            if let Some((name, _)) = line.split_once('=') {
                if name.trim().trim_matches('"') == leaf {
                    return Some(index + 1);
                }
            }
        }
    }
    None
}
