//! JSON and YAML documents as one value model (`serde_json::Value`, keys in input order).
//!
//! Reading: JSON through `serde_json`; YAML through `yaml-rust2`'s event parser, resolved with the
//! YAML 1.2 core schema (plain `80` is a number, `"80"` a string, `true`/`null` as in JSON), anchors and
//! aliases followed, `<<` merge keys applied, duplicate keys and multi-document streams refused. In
//! both syntaxes duplicate keys and an empty document are errors, nesting is limited to
//! [`MAX_DEPTH`] levels and YAML aliases may copy at most [`MAX_ALIAS_BYTES`] in all, so a small
//! hostile file (an alias bomb, 20,000 nested lists) is refused instead of exhausting memory or the
//! stack. Every parse error carries a 1-based line and column.
//!
//! Writing: JSON with 2-space indentation and a trailing newline; YAML in block style with strings
//! quoted whenever a plain scalar would read back as something else.

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// The two syntaxes a document may be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Syntax {
    /// JSON.
    Json,
    /// YAML (a superset of JSON; used only when the file is not JSON).
    Yaml,
}

impl Syntax {
    /// The syntax of a file: by extension (`.json`, `.yml`, `.yaml`), else by content (a document
    /// whose first non-blank character is `{` or `[` is JSON).
    pub fn detect(path: &Path, text: &str) -> Syntax {
        match path.extension().and_then(|e| e.to_str()) {
            Some(e) if e.eq_ignore_ascii_case("json") => Syntax::Json,
            Some(e) if e.eq_ignore_ascii_case("yml") || e.eq_ignore_ascii_case("yaml") => {
                Syntax::Yaml
            }
            _ => match text
                .trim_start_matches('\u{feff}')
                .trim_start()
                .chars()
                .next()
            {
                Some('{' | '[') => Syntax::Json,
                _ => Syntax::Yaml,
            },
        }
    }
}

impl fmt::Display for Syntax {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Syntax::Json => "JSON",
            Syntax::Yaml => "YAML",
        })
    }
}

/// A path into a document, printed as `containerDefinitions[1].portMappings[0].hostPort`; keys that
/// are not identifiers print as `options["awslogs-group"]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JsonPath(String);

impl JsonPath {
    /// The document itself.
    pub fn root() -> JsonPath {
        JsonPath::default()
    }

    /// A member of a mapping.
    #[must_use]
    pub fn key(&self, key: &str) -> JsonPath {
        let identifier = key
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        let mut s = self.0.clone();
        if identifier {
            if !s.is_empty() {
                s.push('.');
            }
            s.push_str(key);
        } else {
            s.push('[');
            s.push_str(&Value::String(key.into()).to_string());
            s.push(']');
        }
        JsonPath(s)
    }

    /// An item of a list.
    #[must_use]
    pub fn index(&self, i: usize) -> JsonPath {
        JsonPath(format!("{}[{i}]", self.0))
    }
}

impl fmt::Display for JsonPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a document could not be read, and where (1-based line and column).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What is wrong there.
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.line, self.column, self.message)
    }
}

/// The deepest a document may nest lists and mappings (the document itself is level 0, so
/// `{"a": [1]}` is 2 deep). Task definitions, AppSpecs, buildspecs and allowlists need fewer than 10.
pub const MAX_DEPTH: usize = 100;

/// How much YAML aliases may copy in all, in bytes of the values they copy written as JSON: each
/// `*alias` copies its anchor's value, so nine anchors of nine aliases each would otherwise make
/// 387 million values from ten lines.
pub const MAX_ALIAS_BYTES: usize = 1024 * 1024;

fn too_deep() -> String {
    format!("nested deeper than {MAX_DEPTH} levels (the limit for lists and mappings)")
}

fn too_many_aliases() -> String {
    format!(
        "aliases expand to more than {} MiB (the limit for what `*alias` copies, against alias bombs); write the values out or alias less",
        MAX_ALIAS_BYTES / (1024 * 1024)
    )
}

const EMPTY: &str = "the document is empty: expected a value";

/// Parses `text` as `syntax`.
pub fn parse(text: &str, syntax: Syntax) -> Result<Value, ParseError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    match syntax {
        Syntax::Json => parse_json(text),
        Syntax::Yaml => parse_yaml(text),
    }
}

/// JSON through `serde_json`, into a [`Value`] with keys in input order, refusing duplicate keys and
/// nesting deeper than [`MAX_DEPTH`].
fn parse_json(text: &str) -> Result<Value, ParseError> {
    let error = |e: serde_json::Error| {
        if e.is_eof() && text.trim().is_empty() {
            return ParseError {
                line: 1,
                column: 1,
                message: EMPTY.into(),
            };
        }
        ParseError {
            line: e.line().max(1),
            column: e.column().max(1),
            message: json_message(&e),
        }
    };
    let mut de = serde_json::Deserializer::from_str(text);
    let value = JsonNode { depth: 0 }.deserialize(&mut de).map_err(error)?;
    de.end().map_err(error)?;
    Ok(value)
}

/// One JSON value `depth` levels down: [`Value`]'s own visitor, with duplicate keys and depth checked.
#[derive(Clone, Copy)]
struct JsonNode {
    depth: usize,
}

impl JsonNode {
    fn child<E: de::Error>(self) -> Result<JsonNode, E> {
        if self.depth >= MAX_DEPTH {
            return Err(E::custom(too_deep()));
        }
        Ok(JsonNode {
            depth: self.depth + 1,
        })
    }
}

impl<'de> DeserializeSeed<'de> for JsonNode {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for JsonNode {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let child = self.child()?;
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(child)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let child = self.child()?;
        let mut map = Map::new();
        while let Some(key) = access.next_key::<String>()? {
            if map.contains_key(&key) {
                return Err(de::Error::custom(format!("duplicate key `{key}`")));
            }
            let value = access.next_value_seed(child)?;
            map.insert(key, value);
        }
        Ok(Value::Object(map))
    }
}

/// `serde_json`'s message without its own " at line L column C" suffix (we print the position first).
fn json_message(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

/// The value as JSON: 2-space indentation, keys in their order, a trailing newline.
pub fn to_json(value: &Value) -> String {
    let mut text = serde_json::to_string_pretty(value).expect("a JSON value serialises");
    text.push('\n');
    text
}

/// The value in `syntax`: [`to_json`] or [`to_yaml`].
pub fn to_text(value: &Value, syntax: Syntax) -> String {
    match syntax {
        Syntax::Json => to_json(value),
        Syntax::Yaml => to_yaml(value),
    }
}

/// The value as block-style YAML with a trailing newline.
pub fn to_yaml(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Object(map) if !map.is_empty() => yaml_map(&mut out, map, 0),
        Value::Array(items) if !items.is_empty() => yaml_seq(&mut out, items, 0),
        other => {
            out.push_str(&yaml_inline(other));
            out.push('\n');
        }
    }
    out
}

fn yaml_map(out: &mut String, map: &Map<String, Value>, indent: usize) {
    for (key, value) in map {
        out.push_str(&" ".repeat(indent));
        out.push_str(&yaml_scalar(key));
        out.push(':');
        yaml_child(out, value, indent + 2);
    }
}

fn yaml_seq(out: &mut String, items: &[Value], indent: usize) {
    for item in items {
        out.push_str(&" ".repeat(indent));
        out.push('-');
        match item {
            Value::Object(map) if !map.is_empty() => {
                // `- key: value` with the mapping's other keys aligned under the first.
                let mut first = true;
                for (key, value) in map {
                    if first {
                        out.push(' ');
                        first = false;
                    } else {
                        out.push_str(&" ".repeat(indent + 2));
                    }
                    out.push_str(&yaml_scalar(key));
                    out.push(':');
                    yaml_child(out, value, indent + 4);
                }
            }
            other => yaml_child(out, other, indent + 2),
        }
    }
}

/// A value after `key:` or `-`: inline when scalar or empty, else on the following lines.
fn yaml_child(out: &mut String, value: &Value, indent: usize) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            out.push('\n');
            yaml_map(out, map, indent);
        }
        Value::Array(items) if !items.is_empty() => {
            out.push('\n');
            yaml_seq(out, items, indent);
        }
        other => {
            out.push(' ');
            out.push_str(&yaml_inline(other));
            out.push('\n');
        }
    }
}

fn yaml_inline(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => yaml_scalar(s),
        Value::Array(_) => "[]".into(),
        Value::Object(_) => "{}".into(),
    }
}

/// A string as a YAML scalar: plain when it reads back as the same string, else double-quoted.
fn yaml_scalar(s: &str) -> String {
    let plain_safe = !s.is_empty()
        && s.trim() == s
        && matches!(resolve_plain(s), Value::String(_))
        && !s.starts_with([
            '-', '?', ':', ',', '[', ']', '{', '}', '#', '&', '*', '!', '|', '>', '\'', '"', '%',
            '@', '`', '<',
        ])
        && !s.contains(": ")
        && !s.contains(" #")
        && !s.ends_with(':')
        && s.chars().all(|c| !c.is_control());
    if plain_safe {
        s.to_string()
    } else {
        serde_json::to_string(s).expect("a string serialises")
    }
}

// ---- YAML reading ----

/// Resolves a plain (unquoted, untagged) scalar with the YAML 1.2 core schema.
fn resolve_plain(s: &str) -> Value {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    if let Some(n) = resolve_int(s) {
        return Value::Number(n);
    }
    if looks_like_float(s)
        && let Some(n) = s.parse::<f64>().ok().and_then(Number::from_f64)
    {
        return Value::Number(n);
    }
    Value::String(s.to_string())
}

fn resolve_int(s: &str) -> Option<Number> {
    let (negative, digits) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let (radix, body) = if let Some(hex) = digits.strip_prefix("0x") {
        (16, hex)
    } else if let Some(oct) = digits.strip_prefix("0o") {
        (8, oct)
    } else {
        (10, digits)
    };
    if body.is_empty() || !body.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    if radix != 10 && negative {
        return None;
    }
    let magnitude = u64::from_str_radix(body, radix).ok()?;
    if negative {
        let v = i64::try_from(magnitude).ok()?;
        Some(Number::from(-v))
    } else {
        Some(Number::from(magnitude))
    }
}

/// `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`
fn looks_like_float(s: &str) -> bool {
    let s = s.strip_prefix(['-', '+']).unwrap_or(s);
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let (int, frac) = match mantissa.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (mantissa, None),
    };
    let digits = |t: &str| t.chars().all(|c| c.is_ascii_digit());
    let mantissa_ok = match frac {
        Some(f) => digits(int) && digits(f) && !(int.is_empty() && f.is_empty()),
        None => !int.is_empty() && digits(int),
    };
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && digits(e)
    });
    mantissa_ok && exponent_ok
}

enum Frame {
    Seq {
        items: Vec<Value>,
        anchor: usize,
        path: JsonPath,
        size: usize,
    },
    Map {
        map: Map<String, Value>,
        anchor: usize,
        key: Option<(String, Marker)>,
        merges: Vec<(Value, Marker)>,
        path: JsonPath,
        size: usize,
    },
}

impl Frame {
    fn size(&mut self) -> &mut usize {
        match self {
            Frame::Seq { size, .. } | Frame::Map { size, .. } => size,
        }
    }
}

/// Where each node of a YAML document starts: JSON path (as [`JsonPath`] prints it) → 1-based
/// (line, column). A mapping member's position is its key's.
pub type Positions = HashMap<String, (usize, usize)>;

/// Builds the value from the parser's events without recursion (the open lists and mappings are
/// `stack`), so nesting costs no stack; sizes are counted as the bytes each value takes written as
/// JSON, which is what an alias copying it costs.
#[derive(Default)]
struct Loader {
    stack: Vec<Frame>,
    /// Each anchor's value and its size.
    anchors: HashMap<usize, (Value, usize)>,
    /// What aliases have copied so far, in bytes.
    aliased: usize,
    root: Option<Value>,
    documents: usize,
    error: Option<ParseError>,
    positions: Option<Positions>,
}

fn at(mark: Marker, message: impl Into<String>) -> ParseError {
    ParseError {
        line: mark.line().max(1),
        column: mark.col() + 1,
        message: message.into(),
    }
}

/// A scalar's size as JSON: its text, quotes and a separator.
fn scalar_size(text: &str) -> usize {
    text.len() + 3
}

impl Loader {
    /// The path of a node that starts now, and records where (keys record their member's path).
    fn start(&mut self, mark: Marker, key_text: Option<&str>) -> JsonPath {
        let path = match self.stack.last() {
            None => JsonPath::root(),
            Some(Frame::Seq { items, path, .. }) => path.index(items.len()),
            Some(Frame::Map {
                key: Some((k, _)),
                path,
                ..
            }) => path.key(k),
            Some(Frame::Map {
                key: None, path, ..
            }) => match key_text {
                Some(k) => path.key(k),
                None => path.clone(),
            },
        };
        if let Some(positions) = &mut self.positions {
            positions
                .entry(path.to_string())
                .or_insert((mark.line().max(1), mark.col() + 1));
        }
        path
    }

    /// A new collection's path when positions are being recorded (else the root: unused).
    fn path_if_wanted(&mut self, mark: Marker) -> JsonPath {
        if self.positions.is_some() {
            self.start(mark, None)
        } else {
            JsonPath::root()
        }
    }

    fn fail(&mut self, err: ParseError) {
        if self.error.is_none() {
            self.error = Some(err);
        }
    }

    /// Opens a list or mapping, unless that nests deeper than [`MAX_DEPTH`].
    fn open(&mut self, mark: Marker, frame: impl FnOnce(JsonPath) -> Frame) {
        if self.stack.len() >= MAX_DEPTH {
            self.fail(at(mark, too_deep()));
            return;
        }
        let path = self.path_if_wanted(mark);
        self.stack.push(frame(path));
    }

    fn scalar(&mut self, text: String, style: TScalarStyle, tag: Option<&Tag>, mark: Marker) {
        let value = match tag {
            None if style == TScalarStyle::Plain => resolve_plain(&text),
            None => Value::String(text.clone()),
            Some(tag) if tag.handle == "tag:yaml.org,2002:" || tag.handle == "!!" => {
                match tag.suffix.as_str() {
                    "str" => Value::String(text.clone()),
                    "null" | "bool" | "int" | "float" => {
                        let v = resolve_plain(&text);
                        let ok = match tag.suffix.as_str() {
                            "null" => v.is_null(),
                            "bool" => v.is_boolean(),
                            "int" => v.is_i64() || v.is_u64(),
                            _ => v.is_number(),
                        };
                        if !ok {
                            self.fail(at(
                                mark,
                                format!("`{text}` is not a valid !!{}", tag.suffix),
                            ));
                        }
                        v
                    }
                    other => {
                        self.fail(at(mark, format!("unsupported tag `!!{other}`")));
                        Value::Null
                    }
                }
            }
            Some(tag) => {
                self.fail(at(
                    mark,
                    format!(
                        "unsupported tag `{}{}` (this file is read as plain data; CloudFormation-style tags are not evaluated)",
                        tag.handle, tag.suffix
                    ),
                ));
                Value::Null
            }
        };
        let size = scalar_size(&text);
        self.value(value, mark, Some(text), size);
    }

    /// A complete node of `size` bytes: a mapping key, a mapping value, a sequence item or the root.
    fn value(&mut self, value: Value, mark: Marker, scalar_text: Option<String>, size: usize) {
        if let Some(frame) = self.stack.last_mut() {
            *frame.size() += size;
        }
        match self.stack.last_mut() {
            None => {
                if self.root.is_some() {
                    self.fail(at(mark, "more than one value in the document"));
                }
                self.root = Some(value);
            }
            Some(Frame::Seq { items, .. }) => items.push(value),
            Some(Frame::Map {
                key: key @ None, ..
            }) => match scalar_text {
                Some(text) => *key = Some((text, mark)),
                None => self.fail(at(
                    mark,
                    "a mapping key must be a plain value, not a list or mapping",
                )),
            },
            Some(Frame::Map {
                map, key, merges, ..
            }) => {
                let (name, key_mark) = key.take().expect("the key was set above");
                if name == "<<" {
                    merges.push((value, key_mark));
                } else if map.contains_key(&name) {
                    let err = at(key_mark, format!("duplicate key `{name}`"));
                    self.fail(err);
                } else {
                    map.insert(name, value);
                }
            }
        }
    }

    /// `*alias`: a copy of the anchor's value, unless aliases have copied [`MAX_ALIAS_BYTES`].
    fn alias(&mut self, id: usize, mark: Marker) {
        let Some((value, size)) = self.anchors.get(&id) else {
            self.fail(at(mark, "an alias to an unknown anchor"));
            return;
        };
        let size = *size;
        self.aliased = self.aliased.saturating_add(size);
        if self.aliased > MAX_ALIAS_BYTES {
            self.fail(at(mark, too_many_aliases()));
            return;
        }
        let value = value.clone();
        let text = value.as_str().map(str::to_string);
        self.value(value, mark, text, size);
    }

    fn close_map(&mut self, frame: Frame, mark: Marker) {
        let Frame::Map {
            mut map,
            anchor,
            merges,
            size,
            ..
        } = frame
        else {
            return;
        };
        // `<<: *base` or `<<: [*a, *b]`: keys written in the mapping win, then earlier merges.
        for (source, merge_mark) in merges {
            let sources = match source {
                Value::Array(items) => items,
                other => vec![other],
            };
            for source in sources {
                let Value::Object(fields) = source else {
                    self.fail(at(merge_mark, "`<<` merges mappings only"));
                    continue;
                };
                for (k, v) in fields {
                    map.entry(k).or_insert(v);
                }
            }
        }
        let value = Value::Object(map);
        let size = size + 2;
        if anchor > 0 {
            self.anchors.insert(anchor, (value.clone(), size));
        }
        self.value(value, mark, None, size);
    }
}

impl MarkedEventReceiver for Loader {
    fn on_event(&mut self, event: Event, mark: Marker) {
        if self.error.is_some() {
            return;
        }
        match event {
            Event::DocumentStart => {
                self.documents += 1;
                if self.documents > 1 {
                    self.fail(at(
                        mark,
                        "a second YAML document (`---`); this file must hold one",
                    ));
                }
            }
            Event::Scalar(text, style, anchor, tag) => {
                if self.positions.is_some() {
                    self.start(mark, Some(&text));
                }
                if anchor > 0 {
                    let v = match (style, &tag) {
                        (TScalarStyle::Plain, None) => resolve_plain(&text),
                        _ => Value::String(text.clone()),
                    };
                    self.anchors.insert(anchor, (v, scalar_size(&text)));
                }
                self.scalar(text, style, tag.as_ref(), mark);
            }
            Event::Alias(id) => self.alias(id, mark),
            Event::SequenceStart(anchor, _) => self.open(mark, |path| Frame::Seq {
                items: Vec::new(),
                anchor,
                path,
                size: 0,
            }),
            Event::MappingStart(anchor, _) => self.open(mark, |path| Frame::Map {
                map: Map::new(),
                anchor,
                key: None,
                merges: Vec::new(),
                path,
                size: 0,
            }),
            Event::SequenceEnd => {
                if let Some(Frame::Seq {
                    items,
                    anchor,
                    size,
                    ..
                }) = self.stack.pop()
                {
                    let value = Value::Array(items);
                    let size = size + 2;
                    if anchor > 0 {
                        self.anchors.insert(anchor, (value.clone(), size));
                    }
                    self.value(value, mark, None, size);
                }
            }
            Event::MappingEnd => {
                if let Some(frame) = self.stack.pop() {
                    self.close_map(frame, mark);
                }
            }
            Event::Nothing | Event::StreamStart | Event::StreamEnd | Event::DocumentEnd => {}
        }
    }
}

/// Parses YAML (or JSON, a subset) and records where each node starts, for messages about content
/// that parsed but is wrong (`phases.biuld` at line 12).
pub fn parse_with_positions(text: &str) -> Result<(Value, Positions), ParseError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut loader = Loader {
        positions: Some(Positions::new()),
        ..Loader::default()
    };
    let value = run_loader(text, &mut loader)?;
    Ok((value, loader.positions.unwrap_or_default()))
}

fn parse_yaml(text: &str) -> Result<Value, ParseError> {
    let mut loader = Loader::default();
    run_loader(text, &mut loader)
}

/// Feeds the parser's events to `loader` one at a time (`Parser::load` recurses once per level of
/// nesting, which a deep enough file turns into a stack overflow), stopping at the first error.
fn run_loader(text: &str, loader: &mut Loader) -> Result<Value, ParseError> {
    let mut parser = Parser::new_from_str(text);
    loop {
        let (event, mark) = parser.next_token().map_err(|e| {
            let mark = e.marker();
            // The scanner's own bound on flow nesting (`[[[…`), which it reaches while looking
            // ahead, before the loader sees the lists.
            let message = match e.info() {
                "recursion limit exceeded" => too_deep(),
                info => info.to_string(),
            };
            ParseError {
                line: mark.line().max(1),
                column: mark.col() + 1,
                message,
            }
        })?;
        if event == Event::StreamEnd {
            break;
        }
        loader.on_event(event, mark);
        if let Some(err) = loader.error.take() {
            return Err(err);
        }
    }
    if loader.documents == 0 {
        return Err(ParseError {
            line: 1,
            column: 1,
            message: EMPTY.into(),
        });
    }
    Ok(loader.root.take().unwrap_or(Value::Null))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn yaml(text: &str) -> Value {
        parse(text, Syntax::Yaml).unwrap()
    }

    #[test]
    fn syntax_follows_the_extension_then_the_content() {
        assert_eq!(Syntax::detect(Path::new("a.json"), "x: 1"), Syntax::Json);
        assert_eq!(Syntax::detect(Path::new("a.YML"), "{}"), Syntax::Yaml);
        assert_eq!(Syntax::detect(Path::new("-"), "  {\"a\": 1}"), Syntax::Json);
        assert_eq!(Syntax::detect(Path::new("x"), "a: 1"), Syntax::Yaml);
    }

    #[test]
    fn yaml_scalars_resolve_with_the_core_schema() {
        let v = yaml(
            "a: 80\nb: \"80\"\nc: 0.0\nd: true\ne: ~\nf: 1e3\ng: 0x1F\nh: -7\ni: 1.2.3\nj: LATEST\nk: 'yes'\nl: yes\nm: !!str 5\n",
        );
        assert_eq!(
            v,
            json!({"a": 80, "b": "80", "c": 0.0, "d": true, "e": null, "f": 1000.0, "g": 31, "h": -7,
                   "i": "1.2.3", "j": "LATEST", "k": "yes", "l": "yes", "m": "5"})
        );
    }

    #[test]
    fn anchors_aliases_and_merge_keys() {
        let v = yaml(
            "base: &log\n  logDriver: awslogs\n  options: {a: 1}\nweb:\n  <<: *log\n  options: {b: 2}\nlist: [&x one, *x]\n",
        );
        assert_eq!(
            v,
            json!({"base": {"logDriver": "awslogs", "options": {"a": 1}},
                   "web": {"options": {"b": 2}, "logDriver": "awslogs"},
                   "list": ["one", "one"]})
        );
    }

    #[test]
    fn errors_carry_line_and_column() {
        let e = parse("{\n  \"a\": 1,\n  \"b\" 2\n}", Syntax::Json).unwrap_err();
        assert_eq!((e.line, e.column), (3, 7), "{e}");
        assert!(e.message.contains("expected `:`"), "{e}");
        let e = parse("a: 1\nb: [1, 2\n", Syntax::Yaml).unwrap_err();
        assert_eq!(e.line, 3, "{e}");
        let e = parse("a: 1\nb: 2\na: 3\n", Syntax::Yaml).unwrap_err();
        assert_eq!(
            e.to_string(),
            "3:1: duplicate key `a`",
            "duplicate keys are refused"
        );
        let e = parse("a: 1\n---\nb: 2\n", Syntax::Yaml).unwrap_err();
        assert_eq!(e.line, 2, "{e}");
        let e = parse("a: !Ref Thing\n", Syntax::Yaml).unwrap_err();
        assert!(e.message.contains("unsupported tag `!Ref"), "{e}");
    }

    #[test]
    fn yaml_output_reads_back_as_the_same_value() {
        let v = json!({
            "version": 0.0,
            "Resources": [{"TargetService": {"Type": "AWS::ECS::Service", "Properties": {
                "TaskDefinition": "<TASK_DEFINITION>",
                "LoadBalancerInfo": {"ContainerName": "web", "ContainerPort": 80}}}}],
            "odd": ["80", "true", "", " x", "a: b", "# c", "null", "ünï", "-1", "1.5", "x\ny", [], {}],
            "Hooks": [{"BeforeInstall": "fn"}]
        });
        let text = to_yaml(&v);
        assert_eq!(yaml(&text), v, "{text}");
        assert!(
            text.starts_with(
                "version: 0.0\nResources:\n  - TargetService:\n      Type: AWS::ECS::Service\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn positions_point_at_keys_and_items() {
        let (v, pos) = parse_with_positions(
            "version: 0.2\nphases:\n  build:\n    commands:\n      - echo hi\n      - make\n",
        )
        .unwrap();
        assert_eq!(v["phases"]["build"]["commands"][1], "make");
        assert_eq!(pos["version"], (1, 1));
        assert_eq!(pos["phases.build"], (3, 3));
        assert_eq!(pos["phases.build.commands[1]"], (6, 9));
    }

    /// Nine anchors of nine aliases each: 9^9 strings if every alias were copied.
    fn alias_bomb() -> String {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x]\n");
        for i in 1..9 {
            let aliases = vec![format!("*a{}", i - 1); 9].join(", ");
            text.push_str(&format!("a{i}: &a{i} [{aliases}]\n"));
        }
        text
    }

    #[test]
    fn aliases_copy_at_most_the_limit() {
        let e = parse(&alias_bomb(), Syntax::Yaml).unwrap_err();
        assert!(
            e.message.contains("aliases expand to more than 1 MiB"),
            "{e}"
        );
        assert!(e.line > 1 && e.line <= 9, "{e}");
        let e = parse_with_positions(&alias_bomb()).unwrap_err();
        assert!(e.message.contains("1 MiB"), "{e}");
        // One large scalar aliased a few times is the same attack with fewer aliases.
        let big = "x".repeat(300 * 1024);
        let e = parse(&format!("a: &a {big}\nb: [*a, *a, *a, *a]\n"), Syntax::Yaml).unwrap_err();
        assert_eq!(e.line, 2, "{e}");
        // Ordinary reuse is far below it.
        let v = yaml(&format!("a: &a {}\nb: [*a, *a, *a]\n", "x".repeat(1000)));
        assert_eq!(v["b"].as_array().unwrap().len(), 3);
    }

    fn nested(depth: usize, syntax: Syntax) -> String {
        match syntax {
            Syntax::Json => format!("{}1{}", "[".repeat(depth), "]".repeat(depth)),
            // Block style: `- - - 1` nests one list per dash.
            Syntax::Yaml => format!("{}1\n", "- ".repeat(depth)),
        }
    }

    #[test]
    fn nesting_is_limited_in_both_syntaxes() {
        for syntax in [Syntax::Json, Syntax::Yaml] {
            let v = parse(&nested(MAX_DEPTH, syntax), syntax).unwrap();
            let mut inner = &v;
            for _ in 0..MAX_DEPTH {
                inner = &inner[0];
            }
            assert_eq!(inner, &json!(1), "{syntax}");
            for depth in [MAX_DEPTH + 1, 20_000] {
                let e = parse(&nested(depth, syntax), syntax).unwrap_err();
                assert!(
                    e.message.contains("nested deeper than 100 levels"),
                    "{syntax} {depth}: {e}"
                );
                assert_eq!(e.line, 1, "{e}");
            }
        }
        let flow = format!("{}{}", "[".repeat(20_000), "]".repeat(20_000));
        let e = parse(&flow, Syntax::Yaml).unwrap_err();
        assert!(e.message.contains("nested deeper than 100"), "{e}");
        // Indented mappings, one level per line.
        let mut mappings = String::new();
        for i in 0..1000 {
            mappings.push_str(&" ".repeat(i));
            mappings.push_str("k:\n");
        }
        let e = parse_with_positions(&mappings).unwrap_err();
        assert_eq!(
            (e.line, e.message.contains("100 levels")),
            (101, true),
            "{e}"
        );
    }

    #[test]
    fn duplicate_keys_and_empty_documents_are_errors_in_both_syntaxes() {
        let e = parse("{\n  \"a\": 1,\n  \"a\": 2\n}", Syntax::Json).unwrap_err();
        assert_eq!(
            (e.line, e.message.as_str()),
            (3, "duplicate key `a`"),
            "{e}"
        );
        let e = parse("{\"x\": {\"b\": 1, \"b\": 1}}", Syntax::Json).unwrap_err();
        assert_eq!(e.message, "duplicate key `b`", "{e}");
        // The same key in different mappings is no duplicate.
        assert_eq!(
            parse("[{\"a\": 1}, {\"a\": 2}]", Syntax::Json).unwrap(),
            json!([{"a": 1}, {"a": 2}])
        );
        for (text, syntax) in [
            ("", Syntax::Json),
            (" \n\t\n", Syntax::Json),
            ("\u{feff}", Syntax::Json),
            ("", Syntax::Yaml),
            ("\n\n", Syntax::Yaml),
            ("# only a comment\n", Syntax::Yaml),
        ] {
            let e = parse(text, syntax).unwrap_err();
            assert_eq!(
                e.to_string(),
                "1:1: the document is empty: expected a value",
                "{syntax} {text:?}"
            );
        }
        assert!(parse_with_positions("# nothing\n").is_err());
        // An explicit null is a value in both.
        assert_eq!(parse("null", Syntax::Json).unwrap(), Value::Null);
        assert_eq!(parse("~\n", Syntax::Yaml).unwrap(), Value::Null);
        assert_eq!(parse("---\n", Syntax::Yaml).unwrap(), Value::Null);
    }

    #[test]
    fn json_values_keep_their_types_and_order() {
        let v = parse(
            r#"{"z": 1, "a": -2, "m": 1.5, "u": 18446744073709551615, "s": "é\n", "n": null, "t": true, "l": []}"#,
            Syntax::Json,
        )
        .unwrap();
        assert_eq!(
            serde_json::to_string(&v).unwrap(),
            r#"{"z":1,"a":-2,"m":1.5,"u":18446744073709551615,"s":"é\n","n":null,"t":true,"l":[]}"#
        );
        let e = parse("{\"a\": 1} x", Syntax::Json).unwrap_err();
        assert!(e.message.contains("trailing characters"), "{e}");
    }

    #[test]
    fn json_output_is_two_space_indented_with_a_newline() {
        assert_eq!(
            to_json(&json!({"b": 1, "a": [true]})),
            "{\n  \"b\": 1,\n  \"a\": [\n    true\n  ]\n}\n"
        );
    }
}
