// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! The document's one text layout, on the target's console and in the
//! committed `bench/<board>.json`: serde_json's pretty printing (two spaces,
//! fields in declaration order), except that an array of plain values (the
//! samples, a round's ratios) stays on one line, so that a record reads as a
//! list of measurements rather than a column of numbers.
//!
//! It is a [`serde_json::ser::Formatter`] that, like serde_json's
//! `PrettyFormatter`, places each item on its own line, but waits for an
//! array's first item to see whether it is a plain value before placing it.

use std::io;

use serde::Serialize;
use serde_json::ser::{
    CompactFormatter,
    Formatter, //
};

/// `value` in the layout, with a final newline.
pub fn to_string(value: &impl Serialize) -> serde_json::Result<String> {
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut out, Layout::default());
    value.serialize(&mut ser)?;
    out.push(b'\n');
    // serde_json writes only UTF-8.
    Ok(String::from_utf8(out).expect("serde_json writes UTF-8"))
}

#[derive(Default)]
struct Layout {
    /// How deep the current line is nested.
    depth: usize,
    /// Whether the innermost object has a field yet (as in `PrettyFormatter`).
    has_value: bool,
    /// Each open array: `None` while it has no item, then whether its items
    /// share its line.
    arrays: Vec<Option<bool>>,
    /// An array item is about to start, `true` if it is the first.
    item: Option<bool>,
}

impl Layout {
    fn newline<W: ?Sized + io::Write>(&self, w: &mut W) -> io::Result<()> {
        w.write_all(b"\n")?;
        for _ in 0..self.depth {
            w.write_all(b"  ")?;
        }
        Ok(())
    }

    /// Places the value that starts now: after its array's `[` or the previous
    /// item, on the same line for a plain value, on a new one for an object or
    /// an array. Keys and object fields are placed by the object's methods.
    fn place<W: ?Sized + io::Write>(&mut self, w: &mut W, container: bool) -> io::Result<()> {
        let Some(first) = self.item.take() else {
            return Ok(());
        };
        let inline = match self.arrays.last_mut() {
            Some(frame) => *frame.get_or_insert(!container),
            None => false,
        };
        match (inline, first) {
            (true, true) => Ok(()),
            (true, false) => w.write_all(b", "),
            (false, first) => {
                if !first {
                    w.write_all(b",")?;
                }
                self.newline(w)
            }
        }
    }
}

/// The plain values: placed, then written as serde_json writes them.
macro_rules! plain {
    ($($name:ident($($ty:ty)?)),* $(,)?) => {
        $(
            fn $name<W: ?Sized + io::Write>(&mut self, w: &mut W $(, value: $ty)?) -> io::Result<()> {
                self.place(w, false)?;
                CompactFormatter.$name(w $(, value as $ty)?)
            }
        )*
    };
}

impl Formatter for Layout {
    plain!(
        write_null(),
        write_bool(bool),
        write_i8(i8),
        write_i16(i16),
        write_i32(i32),
        write_i64(i64),
        write_i128(i128),
        write_u8(u8),
        write_u16(u16),
        write_u32(u32),
        write_u64(u64),
        write_u128(u128),
        write_f32(f32),
        write_f64(f64),
        write_number_str(&str),
        write_byte_array(&[u8]),
        write_raw_fragment(&str),
        begin_string(),
    );

    fn begin_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.place(w, true)?;
        self.depth += 1;
        self.arrays.push(None);
        w.write_all(b"[")
    }

    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        _: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.item = Some(first);
        Ok(())
    }

    fn end_array_value<W: ?Sized + io::Write>(&mut self, _: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }

    fn end_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.depth -= 1;
        if self.arrays.pop() == Some(Some(false)) {
            self.newline(w)?;
        }
        w.write_all(b"]")
    }

    fn begin_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.place(w, true)?;
        self.depth += 1;
        self.has_value = false;
        w.write_all(b"{")
    }

    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if !first {
            w.write_all(b",")?;
        }
        self.newline(w)
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(b": ")
    }

    fn end_object_value<W: ?Sized + io::Write>(&mut self, _: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }

    fn end_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.depth -= 1;
        if self.has_value {
            self.newline(w)?;
        }
        w.write_all(b"}")
    }
}

#[cfg(test)]
mod tests {
    use serde::Serialize;
    use serde_json::Value;

    use super::*;

    #[test]
    fn plain_arrays_stay_on_one_line_in_field_order_and_the_text_parses_back() {
        #[derive(Serialize)]
        struct Inner {
            x: Vec<u32>,
        }
        #[derive(Serialize)]
        struct Empty {}
        #[derive(Serialize)]
        struct Outer {
            z: u32,
            s: Vec<Option<f64>>,
            list: Vec<Inner>,
            e: Vec<u32>,
            nested: Vec<Vec<u8>>,
            empty: Empty,
            name: &'static str,
        }
        let value = Outer {
            z: 1,
            s: vec![Some(0.5), Some(1e-7), None],
            list: vec![Inner { x: vec![1, 2] }, Inner { x: vec![] }],
            e: vec![],
            nested: vec![vec![3], vec![]],
            empty: Empty {},
            name: "a [",
        };
        let text = to_string(&value).unwrap();
        assert_eq!(
            text,
            "{\n  \"z\": 1,\n  \"s\": [0.5, 1e-7, null],\n  \"list\": [\n    {\n      \"x\": [1, 2]\n    },\n    {\n      \"x\": []\n    }\n  ],\n  \"e\": [],\n  \"nested\": [\n    [3],\n    []\n  ],\n  \"empty\": {},\n  \"name\": \"a [\"\n}\n"
        );
        let back: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back, serde_json::to_value(&value).unwrap());
    }

    #[test]
    fn without_plain_arrays_it_is_serde_json_pretty() {
        let value: Value =
            serde_json::from_str(r#"{"a": {"b": [{"c": {}}, {"d": "x\n"}]}, "e": -1.5}"#).unwrap();
        assert_eq!(
            to_string(&value).unwrap(),
            serde_json::to_string_pretty(&value).unwrap() + "\n"
        );
    }
}
