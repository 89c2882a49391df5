//! What a component's WIT says beyond its structure: documentation and the
//! names of records, variants, enums and flags.
//!
//! Component binaries carry type names (a record a world exports is exported
//! by name) but no docs. Plugins built with Warden's SDKs embed their WIT,
//! docs included, in a custom section named `warden:wit` whose payload is
//! JSON: `{"version": 1, "world": "NAME", "wit": "WIT source"}` (see
//! README "Docs in the catalog"). The section may sit at the top level of the
//! component or inside one of its core modules. Without it the WIT is
//! decoded from the component's types: names, no docs.
//!
//! Everything here is read from an untrusted file, so nothing is assumed to
//! match: a function whose WIT disagrees with the component's own types is
//! described from the component alone.

use std::collections::HashMap;

use serde_json::Value as Json;
use wit_parser::{Function, Handle, Resolve, Type, TypeDefKind, WorldId, WorldItem, WorldKey};

/// The custom section's name.
pub const SECTION: &str = "warden:wit";

/// The largest embedded WIT read (the section of a typical plugin is a few KiB).
const MAX_SECTION: usize = 1 << 20;

/// Where the WIT came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WitSource {
    /// The `warden:wit` section: docs and names as the author wrote them.
    Embedded,
    /// Decoded from the component's types: names, no docs.
    Decoded,
}

/// A component's world as WIT.
pub(crate) struct WitWorld {
    resolve: Resolve,
    world: WorldId,
    source: WitSource,
    /// Exported functions by node name inside the plugin (`f`, `iface/f`),
    /// with the interface's id for resource methods.
    functions: HashMap<String, (Function, Option<wit_parser::InterfaceId>)>,
    /// Why the embedded section was not used, when it was there but broken.
    pub(crate) warning: Option<String>,
}

/// The embedded section's payload.
#[derive(serde::Deserialize)]
struct Embedded {
    version: u32,
    world: String,
    wit: String,
}

/// Reads the world of the component in `bytes`: the embedded section when
/// there is a usable one, the component's own types otherwise. `None` only
/// when neither can be read.
pub(crate) fn read(bytes: &[u8]) -> Option<WitWorld> {
    let mut warning = None;
    match embedded_section(bytes) {
        Ok(Some(payload)) => match parse_embedded(payload) {
            Ok((resolve, world)) => {
                return Some(WitWorld::new(resolve, world, WitSource::Embedded, None));
            }
            Err(why) => warning = Some(format!("the `{SECTION}` section was ignored: {why}")),
        },
        Ok(None) => {}
        Err(why) => warning = Some(why),
    }
    match wit_parser::decoding::decode(bytes) {
        Ok(wit_parser::decoding::DecodedWasm::Component(resolve, world)) => {
            Some(WitWorld::new(resolve, world, WitSource::Decoded, warning))
        }
        _ => None,
    }
}

/// The `warden:wit` section: the component's own (top level, added last by
/// a build tool) before one inside a core module (put there by an SDK).
fn embedded_section(bytes: &[u8]) -> Result<Option<&[u8]>, String> {
    let mut depth = 0usize;
    let mut nested = None;
    for payload in wasmparser::Parser::new(0).parse_all(bytes) {
        let Ok(payload) = payload else {
            // Invalid files are reported by the compiler, with a better message.
            return Ok(None);
        };
        match payload {
            wasmparser::Payload::ModuleSection { .. }
            | wasmparser::Payload::ComponentSection { .. } => depth += 1,
            wasmparser::Payload::End(_) => depth = depth.saturating_sub(1),
            wasmparser::Payload::CustomSection(reader) if reader.name() == SECTION => {
                if reader.data().len() > MAX_SECTION {
                    return Err(format!(
                        "the `{SECTION}` section is {} bytes, more than the {MAX_SECTION} read",
                        reader.data().len()
                    ));
                }
                // `End` of the outermost component is the last payload, so
                // the top level is depth 0 before it.
                if depth == 0 {
                    return Ok(Some(reader.data()));
                }
                nested.get_or_insert(reader.data());
            }
            _ => {}
        }
    }
    Ok(nested)
}

fn parse_embedded(payload: &[u8]) -> Result<(Resolve, WorldId), String> {
    let embedded: Embedded =
        serde_json::from_slice(payload).map_err(|e| format!("it is not the expected JSON: {e}"))?;
    if embedded.version != 1 {
        return Err(format!(
            "version {} is not understood (this host reads version 1)",
            embedded.version
        ));
    }
    let mut resolve = Resolve::default();
    let pkg = resolve
        .push_str("warden.wit", &embedded.wit)
        .map_err(|e| format!("its WIT does not parse: {e}"))?;
    let world = resolve
        .select_world(&[pkg], Some(&embedded.world))
        .map_err(|e| format!("its world `{}` is not there: {e}", embedded.world))?;
    Ok((resolve, world))
}

impl WitWorld {
    fn new(
        resolve: Resolve,
        world: WorldId,
        source: WitSource,
        warning: Option<String>,
    ) -> WitWorld {
        let mut functions = HashMap::new();
        for (key, item) in &resolve.worlds[world].exports {
            match item {
                WorldItem::Function(f) => {
                    functions.insert(f.name.clone(), (f.clone(), None));
                }
                WorldItem::Interface { id, .. } => {
                    let iface = &resolve.interfaces[*id];
                    let short = match key {
                        WorldKey::Name(name) => name.clone(),
                        WorldKey::Interface(_) => iface.name.clone().unwrap_or_default(),
                    };
                    for (name, f) in &iface.functions {
                        functions.insert(format!("{short}/{name}"), (f.clone(), Some(*id)));
                    }
                }
                WorldItem::Type { .. } => {}
            }
        }
        WitWorld {
            resolve,
            world,
            source,
            functions,
            warning,
        }
    }

    /// Where the WIT came from.
    pub(crate) fn source(&self) -> WitSource {
        self.source
    }

    /// The world as WIT text, with docs when it has them.
    pub(crate) fn text(&self) -> String {
        let pkg = self.resolve.worlds[self.world].package;
        let Some(pkg) = pkg else {
            return String::new();
        };
        let mut printer = wit_component::WitPrinter::default();
        printer.emit_docs(true);
        let nested: Vec<_> = self
            .resolve
            .packages
            .iter()
            .map(|(id, _)| id)
            .filter(|id| *id != pkg)
            .collect();
        match printer.print(&self.resolve, pkg, &nested) {
            Ok(()) => printer.output.to_string(),
            Err(e) => format!("// the WIT cannot be printed: {e}"),
        }
    }

    /// The function behind node `name` (inside the plugin), when its WIT
    /// agrees with the parameter names the component declares.
    fn function(
        &self,
        name: &str,
        params: &[String],
    ) -> Option<&(Function, Option<wit_parser::InterfaceId>)> {
        let found = self.functions.get(name)?;
        let names = found.0.params.iter().map(|p| &p.name);
        (names.len() == params.len() && names.zip(params).all(|(a, b)| a == b)).then_some(found)
    }

    /// Docs and named types for one node. `None` when the WIT does not
    /// describe it.
    pub(crate) fn describe(&self, name: &str, params: &[String]) -> Option<NodeWit<'_>> {
        let (func, iface) = self.function(name, params)?;
        Some(NodeWit {
            wit: self,
            func,
            iface: *iface,
        })
    }
}

/// What the WIT says about one node.
pub(crate) struct NodeWit<'a> {
    wit: &'a WitWorld,
    func: &'a Function,
    iface: Option<wit_parser::InterfaceId>,
}

/// A WIT type within its world, for rendering and annotating.
#[derive(Clone, Copy)]
pub(crate) struct WitType<'a> {
    resolve: &'a Resolve,
    ty: Type,
}

impl<'a> NodeWit<'a> {
    /// The function's docs.
    pub(crate) fn docs(&self) -> Option<String> {
        docs(&self.func.docs)
    }

    /// Parameter `i`'s type.
    pub(crate) fn param(&self, i: usize) -> Option<WitType<'a>> {
        self.func.params.get(i).map(|p| self.ty(p.ty))
    }

    /// The result type.
    pub(crate) fn result(&self) -> Option<WitType<'a>> {
        self.func.result.map(|t| self.ty(t))
    }

    /// The `ok` type of a top-level `result<T, E>` (what a caller receives).
    pub(crate) fn result_ok(&self) -> Option<WitType<'a>> {
        match self.result()?.def()? {
            TypeDefKind::Result(r) => r.ok.map(|t| self.ty(t)),
            _ => None,
        }
    }

    /// For a node returning a resource: the method `name` of that resource.
    fn method(&self, name: &str) -> Option<&'a Function> {
        let resource = match self.result()?.def()? {
            TypeDefKind::Handle(Handle::Own(id)) => *id,
            _ => return None,
        };
        let resolve = &self.wit.resolve;
        let resource_name = resolve.types.get(resource)?.name.as_deref()?;
        let iface = &resolve.interfaces[self.iface?];
        iface
            .functions
            .get(&format!("[method]{resource_name}.{name}"))
    }

    /// A stream node's item type: `T` of `next`'s `option<T>` (or
    /// `result<option<T>, E>`).
    pub(crate) fn stream_item(&self) -> Option<WitType<'a>> {
        let next = self.ty(self.method("next")?.result?);
        let option = match next.def()? {
            TypeDefKind::Result(r) => self.ty(r.ok?),
            _ => next,
        };
        match option.def()? {
            TypeDefKind::Option(t) => Some(self.ty(*t)),
            _ => None,
        }
    }

    /// A channel node's input and output types (`send`'s message and the
    /// element of the list it returns).
    pub(crate) fn channel_types(&self) -> Option<(WitType<'a>, WitType<'a>)> {
        let send = self.method("send")?;
        let input = self.ty(send.params.get(1)?.ty);
        match self.ty(send.result?).def()? {
            TypeDefKind::List(t) => Some((input, self.ty(*t))),
            _ => None,
        }
    }

    fn ty(&self, ty: Type) -> WitType<'a> {
        WitType {
            resolve: &self.wit.resolve,
            ty,
        }
    }
}

fn docs(docs: &wit_parser::Docs) -> Option<String> {
    docs.contents
        .as_deref()
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(str::to_owned)
}

impl<'a> WitType<'a> {
    fn def(&self) -> Option<&'a TypeDefKind> {
        match self.ty {
            Type::Id(id) => self.resolve.types.get(id).map(|t| &t.kind),
            _ => None,
        }
    }

    fn with(&self, ty: Type) -> WitType<'a> {
        WitType {
            resolve: self.resolve,
            ty,
        }
    }

    /// The type as WIT, named types by name: `list<point>`.
    pub(crate) fn render(&self) -> String {
        let mut out = String::new();
        self.write(&mut out, 0);
        out
    }

    fn write(&self, out: &mut String, depth: usize) {
        let id = match self.ty {
            Type::Bool => return out.push_str("bool"),
            Type::U8 => return out.push_str("u8"),
            Type::U16 => return out.push_str("u16"),
            Type::U32 => return out.push_str("u32"),
            Type::U64 => return out.push_str("u64"),
            Type::S8 => return out.push_str("s8"),
            Type::S16 => return out.push_str("s16"),
            Type::S32 => return out.push_str("s32"),
            Type::S64 => return out.push_str("s64"),
            Type::F32 => return out.push_str("f32"),
            Type::F64 => return out.push_str("f64"),
            Type::Char => return out.push_str("char"),
            Type::String => return out.push_str("string"),
            Type::ErrorContext => return out.push_str("error-context"),
            Type::Id(id) => id,
        };
        let Some(def) = self.resolve.types.get(id) else {
            return out.push('?');
        };
        if let Some(name) = &def.name {
            return out.push_str(name);
        }
        // Types nest only as deep as the component allows; stop runaway
        // (cyclic, hostile) definitions anyway.
        if depth > 64 {
            return out.push_str("...");
        }
        let inner = |out: &mut String, t: &Type| self.with(*t).write(out, depth + 1);
        match &def.kind {
            TypeDefKind::List(t) => {
                out.push_str("list<");
                inner(out, t);
                out.push('>');
            }
            TypeDefKind::FixedLengthList(t, n) => {
                out.push_str("list<");
                inner(out, t);
                out.push_str(&format!(", {n}>"));
            }
            TypeDefKind::Map(k, v) => {
                out.push_str("map<");
                inner(out, k);
                out.push_str(", ");
                inner(out, v);
                out.push('>');
            }
            TypeDefKind::Option(t) => {
                out.push_str("option<");
                inner(out, t);
                out.push('>');
            }
            TypeDefKind::Result(r) => {
                out.push_str("result");
                if r.ok.is_some() || r.err.is_some() {
                    out.push('<');
                    match &r.ok {
                        Some(t) => inner(out, t),
                        None => out.push('_'),
                    }
                    if let Some(e) = &r.err {
                        out.push_str(", ");
                        inner(out, e);
                    }
                    out.push('>');
                }
            }
            TypeDefKind::Tuple(t) => {
                out.push_str("tuple<");
                for (i, t) in t.types.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    inner(out, t);
                }
                out.push('>');
            }
            TypeDefKind::Handle(Handle::Own(r)) => {
                out.push_str("own<");
                inner(out, &Type::Id(*r));
                out.push('>');
            }
            TypeDefKind::Handle(Handle::Borrow(r)) => {
                out.push_str("borrow<");
                inner(out, &Type::Id(*r));
                out.push('>');
            }
            TypeDefKind::Type(t) => inner(out, t),
            TypeDefKind::Future(t) | TypeDefKind::Stream(t) => {
                out.push_str(if matches!(def.kind, TypeDefKind::Future(_)) {
                    "future"
                } else {
                    "stream"
                });
                if let Some(t) = t {
                    out.push('<');
                    inner(out, t);
                    out.push('>');
                }
            }
            // Anonymous records, variants, ... do not exist in WIT; a decoded
            // component may still have them.
            _ => out.push_str("(anonymous)"),
        }
    }

    /// Adds `title` (the type's name) and `description` (its docs, and its
    /// fields' and cases' docs) to `schema`, which was made from the same
    /// type by `schema::of`. Parts that do not match are left alone.
    pub(crate) fn annotate(&self, schema: &mut Json) {
        self.annotate_at(schema, 0);
    }

    fn annotate_at(&self, schema: &mut Json, depth: usize) {
        let Type::Id(id) = self.ty else {
            return;
        };
        let Some(def) = self.resolve.types.get(id) else {
            return;
        };
        if depth > 64 || !schema.is_object() {
            return;
        }
        let sub = |schema: &mut Json, t: &Type| self.with(*t).annotate_at(schema, depth + 1);
        match &def.kind {
            TypeDefKind::Record(r) => {
                for f in &r.fields {
                    if let Some(field) = schema.pointer_mut(&format!("/properties/{}", f.name)) {
                        sub(field, &f.ty);
                        describe(field, &f.docs);
                    }
                }
            }
            TypeDefKind::Variant(v) => {
                if let Some(Json::Array(cases)) = schema.get_mut("oneOf") {
                    for (case, schema) in v.cases.iter().zip(cases.iter_mut()) {
                        if let Some(t) = &case.ty
                            && let Some(inner) =
                                schema.pointer_mut(&format!("/properties/{}", case.name))
                        {
                            sub(inner, t);
                        }
                        describe(schema, &case.docs);
                    }
                }
            }
            TypeDefKind::Enum(e) => {
                let cases: Vec<String> = e
                    .cases
                    .iter()
                    .filter_map(|c| docs(&c.docs).map(|d| format!("`{}`: {d}", c.name)))
                    .collect();
                if !cases.is_empty()
                    && let Some(obj) = schema.as_object_mut()
                {
                    obj.insert("x-enum-descriptions".into(), Json::from(cases));
                }
            }
            TypeDefKind::List(t) => {
                if let Some(items) = schema.get_mut("items") {
                    sub(items, t);
                }
            }
            TypeDefKind::FixedLengthList(t, _) => {
                if let Some(items) = schema.get_mut("items") {
                    sub(items, t);
                }
            }
            TypeDefKind::Option(t) => {
                if let Some(some) = schema.pointer_mut("/anyOf/1") {
                    // A nested option is a one-element array around the inner one.
                    match some.pointer_mut("/prefixItems/0") {
                        Some(inner) if self.with(*t).is_option() => sub(inner, t),
                        _ => sub(some, t),
                    }
                }
            }
            TypeDefKind::Result(r) => {
                for (slot, t, i) in [("ok", &r.ok, 0), ("err", &r.err, 1)] {
                    if let Some(t) = t
                        && let Some(inner) =
                            schema.pointer_mut(&format!("/oneOf/{i}/properties/{slot}"))
                    {
                        sub(inner, t);
                    }
                }
            }
            TypeDefKind::Tuple(t) => {
                for (i, t) in t.types.iter().enumerate() {
                    if let Some(inner) = schema.pointer_mut(&format!("/prefixItems/{i}")) {
                        sub(inner, t);
                    }
                }
            }
            TypeDefKind::Map(_, v) => {
                if let Some(inner) = schema.get_mut("additionalProperties") {
                    sub(inner, v);
                }
            }
            TypeDefKind::Type(t) => sub(schema, t),
            _ => {}
        }
        if let Some(name) = &def.name
            && let Some(obj) = schema.as_object_mut()
        {
            obj.insert("title".into(), Json::from(name.clone()));
            if let Some(d) = docs(&def.docs) {
                obj.insert("description".into(), Json::from(d));
            }
        }
    }

    fn is_option(&self) -> bool {
        let mut ty = *self;
        // Through aliases.
        for _ in 0..64 {
            match ty.def() {
                Some(TypeDefKind::Option(_)) => return true,
                Some(TypeDefKind::Type(t)) => ty = ty.with(*t),
                _ => return false,
            }
        }
        false
    }
}

/// Sets `description` from a field's or case's `docs`: they say more about
/// the value there than the docs of its type.
fn describe(schema: &mut Json, docs_of: &wit_parser::Docs) {
    if let Some(d) = docs(docs_of)
        && let Some(obj) = schema.as_object_mut()
    {
        obj.insert("description".into(), Json::from(d));
    }
}

/// The `warden:wit` section for the package in `dir` (a WIT file or a
/// directory with a `deps/` folder, as wit-bindgen reads it): its one world,
/// or the one named `world`, printed with docs. Appended to a component
/// (`warden build` does so for componentize-js output), it gives the catalog
/// the docs and names the author wrote.
///
/// # Errors
///
/// When the WIT does not parse or the world is not there, with the parser's
/// message.
pub fn section_for_dir(dir: &std::path::Path, world: Option<&str>) -> Result<Vec<u8>, String> {
    Ok(custom_section(
        SECTION,
        payload_for_dir(dir, world)?.as_bytes(),
    ))
}

/// The JSON payload of [`section_for_dir`].
fn payload_for_dir(dir: &std::path::Path, world: Option<&str>) -> Result<String, String> {
    let mut resolve = Resolve::default();
    let (pkg, _) = resolve
        .push_path(dir)
        .map_err(|e| format!("the WIT in `{}` does not parse: {e:#}", dir.display()))?;
    let world_id = resolve
        .select_world(&[pkg], world)
        .map_err(|e| format!("{e:#}"))?;
    let world_name = resolve.worlds[world_id].name.clone();
    let nested: Vec<_> = resolve
        .packages
        .iter()
        .map(|(id, _)| id)
        .filter(|id| *id != pkg)
        .collect();
    let mut printer = wit_component::WitPrinter::default();
    printer.emit_docs(true);
    printer
        .print(&resolve, pkg, &nested)
        .map_err(|e| format!("the WIT cannot be printed: {e:#}"))?;
    Ok(serde_json::json!({
        "version": 1,
        "world": world_name,
        "wit": printer.output.to_string(),
    })
    .to_string())
}

/// A custom section (id 0) named `name` holding `payload`, ready to append
/// to a module or component.
pub fn custom_section(name: &str, payload: &[u8]) -> Vec<u8> {
    fn leb128(mut n: usize, out: &mut Vec<u8>) {
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(byte);
                return;
            }
            out.push(byte | 0x80);
        }
    }
    let mut body = Vec::with_capacity(name.len() + payload.len() + 5);
    leb128(name.len(), &mut body);
    body.extend_from_slice(name.as_bytes());
    body.extend_from_slice(payload);
    let mut out = Vec::with_capacity(body.len() + 6);
    out.push(0);
    leb128(body.len(), &mut out);
    out.extend_from_slice(&body);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_section_for_a_wit_dir_reads_back_with_docs_and_names() {
        let dir = std::env::temp_dir().join(format!("warden-wit-docs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("plugin.wit"),
            "package a:b;\n\ninterface shapes {\n  /// A point.\n  record point {\n    /// Across.\n    x: s32,\n  }\n}\n\n\
             world plugin {\n  use shapes.{point};\n  /// Moves it.\n  export move: func(p: point) -> point;\n}\n",
        )
        .unwrap();
        let payload = payload_for_dir(&dir, None).expect("parses");
        let _ = std::fs::remove_dir_all(&dir);
        let (resolve, world) = parse_embedded(payload.as_bytes()).expect("reads back");
        let wit = WitWorld::new(resolve, world, WitSource::Embedded, None);
        let node = wit
            .describe("move", &["p".to_owned()])
            .expect("move is described");
        assert_eq!(node.docs().as_deref(), Some("Moves it."));
        let param = node.param(0).expect("p");
        assert_eq!(param.render(), "point");
        let mut schema =
            serde_json::json!({"type": "object", "properties": {"x": {"type": "integer"}}});
        param.annotate(&mut schema);
        assert_eq!(schema["title"], "point");
        assert_eq!(schema["description"], "A point.");
        assert_eq!(schema["properties"]["x"]["description"], "Across.");
        assert!(
            wit.describe("move", &["q".to_owned()]).is_none(),
            "names must agree"
        );

        let section = custom_section(SECTION, payload.as_bytes());
        assert_eq!(section[0], 0);
        assert!(section.ends_with(payload.as_bytes()));
    }
}
