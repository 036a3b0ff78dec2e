//! Maps a field's path (`surge[1].multiplier`) back to the line and column where the file wrote it.

use std::ops::Range;

use toml::de::{DeTable, DeValue};

/// The text of a scenario file and its name, for turning byte offsets and field paths into
/// `file:line:column`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SourceMap {
    pub file: String,
    pub text: String,
}

impl SourceMap {
    pub fn new(file: impl Into<String>, text: impl Into<String>) -> Self {
        Self {
            file: file.into(),
            text: text.into(),
        }
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        (line, column)
    }

    /// The byte range of the value at `path` (`grid.patrol.sweep`, `slo[2].metric`); when the
    /// path is absent (a default was used), the nearest enclosing table that is present.
    pub fn span_of(&self, path: &str) -> Option<Range<usize>> {
        let root = DeTable::parse(&self.text).ok()?;
        let mut best = Some(root.span());
        let mut table: Option<&DeTable> = Some(root.get_ref());
        let mut value: Option<&DeValue> = None;
        for segment in path.split('.') {
            let (key, index) = match segment.find('[') {
                Some(open) => (
                    &segment[..open],
                    segment[open + 1..]
                        .trim_end_matches(']')
                        .parse::<usize>()
                        .ok(),
                ),
                None => (segment, None),
            };
            let current = match (table, value) {
                (Some(t), _) => t,
                (None, Some(DeValue::Table(t))) => t,
                _ => break,
            };
            let Some(found) = current
                .iter()
                .find(|(k, _)| k.get_ref().as_ref() == key)
                .map(|(_, v)| v)
            else {
                break;
            };
            best = Some(found.span());
            let mut v = found.get_ref();
            if let Some(i) = index {
                match v {
                    DeValue::Array(items) => match items.get(i) {
                        Some(item) => {
                            best = Some(item.span());
                            v = item.get_ref();
                        }
                        None => break,
                    },
                    _ => break,
                }
            }
            table = None;
            value = Some(v);
        }
        best
    }

    /// `file:line:column` of a path.
    pub fn locate(&self, path: &str) -> (usize, usize) {
        self.span_of(path)
            .map_or((1, 1), |s| self.line_col(s.start))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_nested_keys_and_array_items() {
        let text =
            "seed = 1\n[grid]\nrate = 2.0\n[[slo]]\nmetric = \"a\"\n[[slo]]\nmetric = \"b\"\n";
        let map = SourceMap::new("t.toml", text);
        assert_eq!(map.locate("seed"), (1, 8));
        assert_eq!(map.locate("grid.rate"), (3, 8));
        assert_eq!(map.locate("slo[1].metric"), (7, 10));
        // Absent keys fall back to their table.
        assert_eq!(map.locate("grid.missing").0, 2);
    }

    #[test]
    fn columns_count_characters_not_bytes() {
        let map = SourceMap::new("t.toml", "name = \"宝安\" # x\n");
        assert_eq!(map.line_col(map.text.find('#').unwrap()), (1, 13));
    }
}
