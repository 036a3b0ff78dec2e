//! What the stack benches share.

use std::hint::black_box;
use std::time::{Duration, Instant};

use baoan_api::{Envelope, Stack};
use baoan_stack::InProcessStack;

/// Time the next `n` commands made by `make` (numbered on from `next`) on one stack that lives
/// through the whole bench, as a platform's does; making them is not timed.
pub fn timed(
    s: &mut InProcessStack,
    next: &mut u64,
    n: u64,
    make: impl Fn(u64) -> Envelope,
) -> Duration {
    let envelopes: Vec<Envelope> = (*next..*next + n).map(make).collect();
    *next += n;
    let start = Instant::now();
    for e in &envelopes {
        black_box(s.send(e).expect("accepted"));
    }
    start.elapsed()
}
