//! Fitting a caller's own calls to a server's body limit (`twin serve --max-body`).
//!
//! A district's set-up is large: its address library alone is about 200 MB of JSON. A command
//! whose body would be larger than the limit is split into several that each fit, where the
//! command allows it: an address library in parts (`more: true` on all but the last, built whole
//! at the last), a department's records in smaller batches, watchlist entries in several upserts.
//! A single row larger than the limit, or a command that cannot be split, is refused by name.
//!
//! Sizes are counted by serialising into a counter, never into a buffer, so measuring a 200 MB
//! library allocates nothing.

use std::io;

use serde::Serialize;

use crate::Command;
use crate::blocks::AddressLibraryData;

/// Bytes kept free in every part for what surrounds its rows: braces, field names, the `type`
/// tag and the `more` flag.
const FRAMING: usize = 1024;

/// A call that cannot be made to fit the server's body limit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{what} is {bytes} bytes as JSON, more than the server takes in one request ({limit} bytes; \
     `twin serve --max-body` sets it){hint}"
)]
pub struct TooLarge {
    /// The command, or the row of it, that does not fit: `load_address_library: rooms[12]`.
    pub what: String,
    pub bytes: usize,
    pub limit: usize,
    hint: &'static str,
}

/// The length of `value` as JSON.
pub fn body_len<T: Serialize + ?Sized>(value: &T) -> usize {
    struct Count(usize);
    impl io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    serde_json::to_writer(&mut count, value).expect("the api's types serialise as JSON");
    count.0
}

/// `None` if `command` fits in a body of `limit` bytes as it is; else the commands, in order,
/// that carry it in parts that each fit.
pub fn split_to_fit(command: &Command, limit: usize) -> Result<Option<Vec<Command>>, TooLarge> {
    let kind = command.kind();
    let budget = limit.saturating_sub(FRAMING);
    match command {
        Command::LoadAddressLibrary { library, more } => {
            let parts = pack_library(library, kind, budget, limit)?;
            if parts.len() <= 1 {
                return Ok(None);
            }
            let last = parts.len() - 1;
            Ok(Some(
                parts
                    .into_iter()
                    .enumerate()
                    .map(|(i, library)| Command::LoadAddressLibrary {
                        library,
                        more: *more || i < last,
                    })
                    .collect(),
            ))
        }
        Command::IngestRecords { records } => {
            let parts = pack_list(Packer::new(kind, budget, limit), records, |i, _| {
                format!("records[{i}]")
            })?;
            Ok((parts.len() > 1).then(|| {
                parts
                    .into_iter()
                    .map(|records| Command::IngestRecords { records })
                    .collect()
            }))
        }
        Command::UpsertWatchlist { entries } => {
            let parts = pack_list(Packer::new(kind, budget, limit), entries, |i, e| {
                format!("entries[{i}] (entry_ref {})", e.entry_ref)
            })?;
            Ok((parts.len() > 1).then(|| {
                parts
                    .into_iter()
                    .map(|entries| Command::UpsertWatchlist { entries })
                    .collect()
            }))
        }
        other => {
            let bytes = body_len(other);
            if bytes <= limit {
                Ok(None)
            } else {
                Err(TooLarge {
                    what: kind.to_string(),
                    bytes,
                    limit,
                    hint: "; it cannot be sent in parts: serve the stack with a larger --max-body",
                })
            }
        }
    }
}

/// A list's items in parts, each within the packer's budget; `name` names an item too large.
fn pack_list<T: Serialize + Clone>(
    mut packer: Packer<'_, Vec<T>>,
    items: &[T],
    name: impl Fn(usize, &T) -> String,
) -> Result<Vec<Vec<T>>, TooLarge> {
    for (i, item) in items.iter().enumerate() {
        packer.take(
            item,
            || name(i, item),
            |part: &mut Vec<T>, item| part.push(item),
        )?;
    }
    Ok(packer.finish())
}

fn pack_library(
    library: &AddressLibraryData,
    kind: &str,
    budget: usize,
    limit: usize,
) -> Result<Vec<AddressLibraryData>, TooLarge> {
    let mut p = Packer::new(kind, budget, limit);
    for (i, s) in library.streets.iter().enumerate() {
        p.take(
            s,
            || format!("streets[{i}] (id {})", s.id),
            |l: &mut AddressLibraryData, s| l.streets.push(s),
        )?;
    }
    for (i, c) in library.communities.iter().enumerate() {
        p.take(
            c,
            || format!("communities[{i}] (id {})", c.id),
            |l: &mut AddressLibraryData, c| l.communities.push(c),
        )?;
    }
    for (i, r) in library.roads.iter().enumerate() {
        p.take(
            r,
            || format!("roads[{i}] (id {})", r.id),
            |l: &mut AddressLibraryData, r| l.roads.push(r),
        )?;
    }
    for (i, b) in library.buildings.iter().enumerate() {
        p.take(
            b,
            || format!("buildings[{i}] (id {})", b.id),
            |l: &mut AddressLibraryData, b| l.buildings.push(b),
        )?;
    }
    for (i, r) in library.rooms.iter().enumerate() {
        p.take(
            r,
            || format!("rooms[{i}] (id {})", r.id),
            |l: &mut AddressLibraryData, r| l.rooms.push(r),
        )?;
    }
    Ok(p.finish())
}

/// Fills parts with rows, in order, each part's rows within the budget.
struct Packer<'a, P> {
    kind: &'a str,
    budget: usize,
    limit: usize,
    parts: Vec<P>,
    current: P,
    used: usize,
}

impl<'a, P: Default> Packer<'a, P> {
    fn new(kind: &'a str, budget: usize, limit: usize) -> Self {
        Packer {
            kind,
            budget,
            limit,
            parts: Vec::new(),
            current: P::default(),
            used: 0,
        }
    }

    fn take<T: Serialize + Clone>(
        &mut self,
        row: &T,
        name: impl FnOnce() -> String,
        put: impl FnOnce(&mut P, T),
    ) -> Result<(), TooLarge> {
        // The row and the comma after it.
        let bytes = body_len(row) + 1;
        if bytes > self.budget {
            return Err(TooLarge {
                what: format!("{}: {}", self.kind, name()),
                bytes: bytes - 1,
                limit: self.limit,
                hint: "",
            });
        }
        if self.used + bytes > self.budget {
            self.parts.push(std::mem::take(&mut self.current));
            self.used = 0;
        }
        put(&mut self.current, row.clone());
        self.used += bytes;
        Ok(())
    }

    fn finish(mut self) -> Vec<P> {
        self.parts.push(self.current);
        self.parts
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blocks::{LibraryBuilding, LibraryRoom, LibraryStreet};

    fn library(rooms: u32) -> AddressLibraryData {
        AddressLibraryData {
            streets: vec![LibraryStreet {
                id: 0,
                name: "新安街道".into(),
            }],
            buildings: vec![LibraryBuilding {
                id: 0,
                road: 0,
                number: 12,
                block: 1,
                grid: 0,
                residential: true,
            }],
            rooms: (0..rooms)
                .map(|id| LibraryRoom {
                    id,
                    building: 0,
                    unit: 1,
                    room: 100 + id as u16,
                })
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn a_library_over_the_limit_goes_in_parts_that_fit_and_add_up_to_it() {
        let whole = library(5_000);
        let command = Command::LoadAddressLibrary {
            library: whole.clone(),
            more: false,
        };
        let limit = 20_000;
        assert!(body_len(&command) > limit);
        let parts = split_to_fit(&command, limit).unwrap().expect("split");
        assert!(parts.len() > 2, "{} parts", parts.len());
        let mut joined = AddressLibraryData::default();
        for (i, part) in parts.iter().enumerate() {
            assert!(
                body_len(part) <= limit,
                "part {i} is {} bytes",
                body_len(part)
            );
            let Command::LoadAddressLibrary { library, more } = part else {
                panic!("{part:?}")
            };
            assert_eq!(
                *more,
                i + 1 < parts.len(),
                "only the last part says no more"
            );
            joined.append(library);
        }
        assert_eq!(joined, whole);
        // What fits is left alone.
        assert_eq!(
            split_to_fit(&command, body_len(&command) + FRAMING),
            Ok(None)
        );
    }

    #[test]
    fn a_row_larger_than_the_limit_or_a_command_that_cannot_be_split_is_named() {
        let mut big = library(1);
        big.streets[0].name = "街".repeat(4_000);
        let command = Command::LoadAddressLibrary {
            library: big,
            more: false,
        };
        let e = split_to_fit(&command, 4_000).unwrap_err();
        assert_eq!(e.what, "load_address_library: streets[0] (id 0)");
        assert!(e.to_string().contains("--max-body"), "{e}");
        let e = split_to_fit(&Command::QueryBacklog, 4).unwrap_err();
        assert_eq!(e.what, "query_backlog");
        assert!(e.to_string().contains("cannot be sent in parts"), "{e}");
    }
}
