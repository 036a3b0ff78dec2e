//! An append-only table stored in fixed-size chunks: the grid's tasks by id, and the stack's
//! audit log.
//!
//! A served stack takes reports for hours. A `Vec` of tasks doubles as it grows, and each
//! doubling copies every task while the stack's lock is held: at a million tasks that is a pause
//! of tens of milliseconds in which no call is answered (the load generator's p99 showed them).
//! Chunks never move once allocated, so appending costs the same at the ten-millionth task as at
//! the first. Written here because it is thirty lines and needs nothing a crate would add.

/// Entries per chunk: 16,384 × a task's size is a few MiB, allocated once per chunk.
const CHUNK: usize = 1 << 14;

#[derive(Debug, Clone)]
pub struct Table<T> {
    chunks: Vec<Vec<T>>,
    len: usize,
}

impl<T> Default for Table<T> {
    fn default() -> Self {
        Table {
            chunks: Vec::new(),
            len: 0,
        }
    }
}

impl<T> Table<T> {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn push(&mut self, value: T) {
        if self.len.is_multiple_of(CHUNK) {
            self.chunks.push(Vec::with_capacity(CHUNK));
        }
        self.chunks
            .last_mut()
            .expect("a chunk with room")
            .push(value);
        self.len += 1;
    }

    pub fn get(&self, i: usize) -> Option<&T> {
        self.chunks.get(i / CHUNK).and_then(|c| c.get(i % CHUNK))
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = &T> + DoubleEndedIterator + '_ {
        Iter {
            inner: self.chunks.iter().flatten(),
            left: self.len,
        }
    }
}

/// `Flatten` with the length known.
struct Iter<I> {
    inner: I,
    left: usize,
}

impl<'a, T: 'a, I: Iterator<Item = &'a T>> Iterator for Iter<I> {
    type Item = &'a T;
    fn next(&mut self) -> Option<&'a T> {
        let next = self.inner.next();
        if next.is_some() {
            self.left -= 1;
        }
        next
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl<'a, T: 'a, I: Iterator<Item = &'a T>> ExactSizeIterator for Iter<I> {}

impl<'a, T: 'a, I: DoubleEndedIterator<Item = &'a T>> DoubleEndedIterator for Iter<I> {
    fn next_back(&mut self) -> Option<&'a T> {
        let next = self.inner.next_back();
        if next.is_some() {
            self.left -= 1;
        }
        next
    }
}

impl<T> std::ops::Index<usize> for Table<T> {
    type Output = T;
    fn index(&self, i: usize) -> &T {
        &self.chunks[i / CHUNK][i % CHUNK]
    }
}

impl<T> std::ops::IndexMut<usize> for Table<T> {
    fn index_mut(&mut self, i: usize) -> &mut T {
        &mut self.chunks[i / CHUNK][i % CHUNK]
    }
}

impl<'a, T> IntoIterator for &'a Table<T> {
    type Item = &'a T;
    type IntoIter = Box<dyn Iterator<Item = &'a T> + 'a>;
    fn into_iter(self) -> Self::IntoIter {
        Box::new(self.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexes_across_chunks_like_a_vec() {
        let mut t = Table::default();
        let n = 3 * CHUNK + 17;
        for i in 0..n {
            t.push(i);
        }
        assert_eq!(t.len(), n);
        for i in [0, 1, CHUNK - 1, CHUNK, 2 * CHUNK + 5, n - 1] {
            assert_eq!(t[i], i);
            assert_eq!(t.get(i), Some(&i));
        }
        assert_eq!(t.get(n), None);
        t[CHUNK] = 7;
        assert_eq!(t[CHUNK], 7);
        assert_eq!(t.iter().len(), n);
        assert_eq!(t.iter().next_back(), Some(&(n - 1)));
        assert_eq!(t.iter().filter(|&&v| v == 7).count(), 2);
        assert_eq!((&t).into_iter().count(), n);
    }
}
