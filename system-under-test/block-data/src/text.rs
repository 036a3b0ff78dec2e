//! Text helpers shared by the address matcher and entity resolution: width folding, simple
//! Chinese numerals, bounded edit distance and a string interner.

use rustc_hash::FxHashMap;

/// Folds one character the way department clerks' input varies: full-width ASCII becomes
/// ASCII, letters become uppercase, whitespace and punctuation disappear (`None`). `#` and `-`
/// survive because they carry meaning in house numbers ("3#" is building 3).
pub(crate) fn fold_char(c: char) -> Option<char> {
    let c = match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        '\u{3000}' => ' ',
        _ => c,
    };
    if c.is_whitespace() {
        return None;
    }
    if c.is_ascii() {
        if c == '#' || c == '-' {
            return Some(c);
        }
        if c.is_ascii_punctuation() || c.is_ascii_control() {
            return None;
        }
        return Some(c.to_ascii_uppercase());
    }
    match c {
        '，' | '。' | '、' | '（' | '）' | '【' | '】' | '：' | '；' | '“' | '”' | '‘' | '’'
        | '《' | '》' | '！' | '？' | '…' | '—' | '・' => None,
        _ => Some(c),
    }
}

/// Value of a simple Chinese numeral character, `10` for 十.
pub(crate) fn chinese_digit(c: char) -> Option<u32> {
    Some(match c {
        '零' | '〇' => 0,
        '一' => 1,
        '二' | '两' => 2,
        '三' => 3,
        '四' => 4,
        '五' => 5,
        '六' => 6,
        '七' => 7,
        '八' => 8,
        '九' => 9,
        '十' => 10,
        _ => return None,
    })
}

/// Converts a run of Chinese numerals to decimal digits: "十二" → 12, "二十三" → 23,
/// "五零三" → 503 (read digit by digit, as room numbers are spoken). `None` for forms this
/// does not handle (百, two 十s), which then stay as written.
pub(crate) fn chinese_numeral_value(run: &[char]) -> Option<u32> {
    let values: Vec<u32> = run
        .iter()
        .map(|&c| chinese_digit(c))
        .collect::<Option<_>>()?;
    let tens = values.iter().filter(|&&v| v == 10).count();
    match tens {
        0 => values
            .iter()
            .try_fold(0u32, |acc, &v| acc.checked_mul(10)?.checked_add(v)),
        1 => {
            let at = values.iter().position(|&v| v == 10)?;
            let high = match at {
                0 => 1,
                1 => values[0],
                _ => return None,
            };
            let low = match values.len() - at - 1 {
                0 => 0,
                1 => values[at + 1],
                _ => return None,
            };
            Some(high * 10 + low)
        }
        _ => None,
    }
}

/// How far apart two sequences are, when that is at most one edit (substitution, insertion,
/// deletion or swap of two neighbours): `Some(0)`, `Some(1)` or `None` beyond that.
pub(crate) fn within_one_edit<T: PartialEq>(a: &[T], b: &[T]) -> Option<u8> {
    if a == b {
        return Some(0);
    }
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    match long.len() - short.len() {
        0 => {
            let first = short.iter().zip(long).position(|(x, y)| x != y)?;
            if short[first + 1..] == long[first + 1..] {
                return Some(1);
            }
            let swapped = first + 1 < short.len()
                && short[first] == long[first + 1]
                && short[first + 1] == long[first]
                && short[first + 2..] == long[first + 2..];
            swapped.then_some(1)
        }
        1 => {
            let first = short
                .iter()
                .zip(long)
                .position(|(x, y)| x != y)
                .unwrap_or(short.len());
            (short[first..] == long[first + 1..]).then_some(1)
        }
        _ => None,
    }
}

/// Collects the characters of `s` into `buf`, or `None` when `s` is longer than the buffer.
pub(crate) fn chars_into<'b>(s: &str, buf: &'b mut [char; 64]) -> Option<&'b [char]> {
    let mut len = 0;
    for c in s.chars() {
        *buf.get_mut(len)? = c;
        len += 1;
    }
    Some(&buf[..len])
}

/// One edit or less between two strings, compared by character.
pub(crate) fn str_within_one_edit(a: &str, b: &str) -> Option<u8> {
    if a == b {
        return Some(0);
    }
    let mut abuf = ['\0'; 64];
    let mut bbuf = ['\0'; 64];
    match (chars_into(a, &mut abuf), chars_into(b, &mut bbuf)) {
        (Some(x), Some(y)) => within_one_edit(x, y),
        _ => {
            let x: Vec<char> = a.chars().collect();
            let y: Vec<char> = b.chars().collect();
            within_one_edit(&x, &y)
        }
    }
}

/// An interned string: names, raw addresses and codes repeat across feeds, so each is stored
/// once and compared as an integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Sym(pub u32);

/// Interns strings into one arena. Written here rather than taken from a crate because ingest
/// needs two things together: the hash computed on another thread, before the record reaches
/// the single-threaded linker ([`Interner::hash`], [`Interner::intern_hashed`]), and one
/// allocation-free insert per new string (millions of distinct addresses in the full district;
/// a `HashMap<Box<str>, Sym>` beside a `Vec<Box<str>>` cost two allocations and two copies).
#[derive(Debug, Default)]
pub(crate) struct Interner {
    /// Hash of a string → the newest symbol with that hash; `next` chains the older ones.
    first: FxHashMap<u64, u32>,
    next: Vec<u32>,
    arena: String,
    /// Where each symbol's text ends in `arena` (it starts where the previous one ends).
    ends: Vec<u32>,
}

const NO_SYM: u32 = u32::MAX;

impl Interner {
    /// The hash `intern_hashed` expects; pure, so any thread may compute it.
    pub fn hash(s: &str) -> u64 {
        use std::hash::{BuildHasher, Hasher};
        let mut h = rustc_hash::FxBuildHasher.build_hasher();
        h.write(s.as_bytes());
        h.finish()
    }

    #[cfg(test)]
    pub fn intern(&mut self, s: &str) -> Sym {
        self.intern_hashed(s, Self::hash(s))
    }

    /// The symbol of a string already interned, without interning it.
    pub fn get_hashed(&self, s: &str, hash: u64) -> Option<Sym> {
        let mut i = *self.first.get(&hash)?;
        while i != NO_SYM {
            if self.resolve(Sym(i)) == s {
                return Some(Sym(i));
            }
            i = self.next[i as usize];
        }
        None
    }

    /// `intern` with the hash given (see [`Interner::hash`]).
    pub fn intern_hashed(&mut self, s: &str, hash: u64) -> Sym {
        if let Some(sym) = self.get_hashed(s, hash) {
            return sym;
        }
        let sym = u32::try_from(self.next.len())
            .ok()
            .filter(|&n| n != NO_SYM)
            .expect("fewer than 2^32 - 1 distinct strings");
        self.arena.push_str(s);
        self.ends
            .push(u32::try_from(self.arena.len()).expect("interned text under 4 GiB in all"));
        let older = self.first.insert(hash, sym).unwrap_or(NO_SYM);
        self.next.push(older);
        Sym(sym)
    }

    pub fn resolve(&self, sym: Sym) -> &str {
        let i = sym.0 as usize;
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.arena[start..self.ends[i] as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chars(s: &str) -> Vec<char> {
        s.chars().collect()
    }

    #[test]
    fn folding_turns_full_width_into_ascii_and_drops_punctuation() {
        let folded: String = "１２３ＡｂＣ，　(x)#-"
            .chars()
            .filter_map(fold_char)
            .collect();
        assert_eq!(folded, "123ABCX#-");
    }

    #[test]
    fn chinese_numerals_cover_simple_forms_only() {
        assert_eq!(chinese_numeral_value(&chars("三")), Some(3));
        assert_eq!(chinese_numeral_value(&chars("十")), Some(10));
        assert_eq!(chinese_numeral_value(&chars("十二")), Some(12));
        assert_eq!(chinese_numeral_value(&chars("二十")), Some(20));
        assert_eq!(chinese_numeral_value(&chars("二十三")), Some(23));
        assert_eq!(chinese_numeral_value(&chars("五零三")), Some(503));
        assert_eq!(chinese_numeral_value(&chars("两")), Some(2));
        assert_eq!(chinese_numeral_value(&chars("十十")), None);
        assert_eq!(chinese_numeral_value(&chars("一二十")), None);
    }

    #[test]
    fn one_edit_distinguishes_each_edit_kind() {
        assert_eq!(
            within_one_edit(&chars("兴华一路"), &chars("兴华一路")),
            Some(0)
        );
        assert_eq!(
            within_one_edit(&chars("兴华一路"), &chars("兴化一路")),
            Some(1)
        );
        assert_eq!(
            within_one_edit(&chars("兴华一路"), &chars("兴华路")),
            Some(1)
        );
        assert_eq!(
            within_one_edit(&chars("兴华路"), &chars("兴华一路")),
            Some(1)
        );
        assert_eq!(
            within_one_edit(&chars("兴华一路"), &chars("华兴一路")),
            Some(1)
        );
        assert_eq!(
            within_one_edit(&chars("兴华一路"), &chars("兴化二路")),
            None
        );
        assert_eq!(within_one_edit(&chars("兴华一路"), &chars("兴路")), None);
        assert_eq!(within_one_edit(&chars("ab"), &chars("ba")), Some(1));
        assert_eq!(within_one_edit(&chars("abc"), &chars("bca")), None);
        assert_eq!(str_within_one_edit("王伟", "王玮"), Some(1));
    }

    #[test]
    fn interner_returns_the_same_symbol_for_the_same_text() {
        let mut interner = Interner::default();
        let a = interner.intern("王伟");
        let b = interner.intern("李娜");
        assert_ne!(a, b);
        assert_eq!(interner.intern("王伟"), a);
        assert_eq!(interner.resolve(b), "李娜");
        assert_eq!(interner.resolve(a), "王伟");
        let empty = interner.intern("");
        assert_eq!(interner.resolve(empty), "");
        assert_eq!(interner.get_hashed("李娜", Interner::hash("李娜")), Some(b));
        assert_eq!(interner.get_hashed("张三", Interner::hash("张三")), None);
    }

    #[test]
    fn interner_keeps_strings_apart_when_their_hashes_collide() {
        let mut interner = Interner::default();
        // Forced to one hash: the chain must still tell them apart.
        let a = interner.intern_hashed("兴华路12号", 7);
        let b = interner.intern_hashed("兴华路13号", 7);
        let c = interner.intern_hashed("兴华路14号", 7);
        assert_eq!(interner.intern_hashed("兴华路12号", 7), a);
        assert_eq!(interner.intern_hashed("兴华路13号", 7), b);
        assert_eq!(interner.get_hashed("兴华路14号", 7), Some(c));
        assert_eq!(interner.get_hashed("兴华路15号", 7), None);
        assert_eq!(
            [a, b, c].map(|s| interner.resolve(s)),
            ["兴华路12号", "兴华路13号", "兴华路14号"]
        );
    }
}
