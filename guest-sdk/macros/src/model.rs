//! Reading a `#[plugin]` module: its `pub fn`s and its derived types, with
//! the WIT type of every parameter, result and field. Everything that cannot
//! cross the plugin boundary is an error pointing at the offending type.

use std::collections::{BTreeSet, HashMap};

use proc_macro2::TokenStream;
use quote::{ToTokens, quote};
use syn::punctuated::Punctuated;
use syn::{
    Attribute, Error, Fields, FnArg, GenericArgument, Ident, Item, ItemEnum, ItemFn, ItemMod,
    ItemStruct, Pat, Path, PathArguments, ReturnType, Token, Type, TypeParamBound, Visibility,
};

use crate::names::{docs, wit_name};

/// A type WIT has: a primitive, a container or a derived type of the module.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Ty {
    /// `bool`, the integers, the floats, `char`, `string`.
    Prim(Prim),
    /// `list<T>`.
    List(Box<Ty>),
    /// `option<T>`.
    Option(Box<Ty>),
    /// `result<T, E>`; `None` for `()`.
    Result(Option<Box<Ty>>, Option<Box<Ty>>),
    /// `tuple<..>`.
    Tuple(Vec<Ty>),
    /// The derived type with this index in [`Plugin::defs`].
    Named(usize),
}

/// The primitive types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Prim {
    Bool,
    S8,
    S16,
    S32,
    S64,
    U8,
    U16,
    U32,
    U64,
    F32,
    F64,
    Char,
    String,
}

impl Prim {
    /// The WIT name.
    pub(crate) fn wit(self) -> &'static str {
        match self {
            Prim::Bool => "bool",
            Prim::S8 => "s8",
            Prim::S16 => "s16",
            Prim::S32 => "s32",
            Prim::S64 => "s64",
            Prim::U8 => "u8",
            Prim::U16 => "u16",
            Prim::U32 => "u32",
            Prim::U64 => "u64",
            Prim::F32 => "f32",
            Prim::F64 => "f64",
            Prim::Char => "char",
            Prim::String => "string",
        }
    }

    /// The Rust type.
    pub(crate) fn rust(self) -> TokenStream {
        match self {
            Prim::Bool => quote!(bool),
            Prim::S8 => quote!(i8),
            Prim::S16 => quote!(i16),
            Prim::S32 => quote!(i32),
            Prim::S64 => quote!(i64),
            Prim::U8 => quote!(u8),
            Prim::U16 => quote!(u16),
            Prim::U32 => quote!(u32),
            Prim::U64 => quote!(u64),
            Prim::F32 => quote!(f32),
            Prim::F64 => quote!(f64),
            Prim::Char => quote!(char),
            Prim::String => quote!(::std::string::String),
        }
    }

    fn from_name(name: &str) -> Option<Prim> {
        Some(match name {
            "bool" => Prim::Bool,
            "i8" => Prim::S8,
            "i16" => Prim::S16,
            "i32" => Prim::S32,
            "i64" => Prim::S64,
            "u8" => Prim::U8,
            "u16" => Prim::U16,
            "u32" => Prim::U32,
            "u64" => Prim::U64,
            "f32" => Prim::F32,
            "f64" => Prim::F64,
            "char" => Prim::Char,
            "String" => Prim::String,
            _ => return None,
        })
    }
}

impl Ty {
    /// The derived types named anywhere in this type (not inside them).
    pub(crate) fn named(&self, out: &mut BTreeSet<usize>) {
        match self {
            Ty::Prim(_) => {}
            Ty::List(t) | Ty::Option(t) => t.named(out),
            Ty::Result(ok, err) => {
                for t in [ok, err].into_iter().flatten() {
                    t.named(out);
                }
            }
            Ty::Tuple(ts) => ts.iter().for_each(|t| t.named(out)),
            Ty::Named(i) => {
                out.insert(*i);
            }
        }
    }
}

/// The plugin: one `#[plugin]` module.
pub(crate) struct Plugin {
    /// The module's name.
    pub(crate) ident: Ident,
    /// Its WIT name: the package, the world and (for streams and channels)
    /// the interface are named after it.
    pub(crate) name: String,
    /// The module's docs: the world's.
    pub(crate) docs: String,
    /// The module's plain functions, in order: the world's exports.
    pub(crate) funcs: Vec<Func>,
    /// The exported interfaces: the module's stream and channel functions
    /// (when it has any), then one per `pub mod` with `pub fn`s, in order.
    pub(crate) interfaces: Vec<Interface>,
    /// The derived types of the module and its `pub mod`s, in order.
    pub(crate) defs: Vec<Def>,
}

/// An exported interface: its functions are nodes `PLUGIN/INTERFACE/f`.
pub(crate) struct Interface {
    /// The `pub mod` it stands for; `None` for the interface of the plugin
    /// module's own stream and channel functions.
    pub(crate) module: Option<Ident>,
    /// Its WIT name.
    pub(crate) name: String,
    pub(crate) docs: String,
    pub(crate) funcs: Vec<Func>,
}

/// One `pub fn`: a node.
pub(crate) struct Func {
    pub(crate) ident: Ident,
    /// The `pub mod` declaring it; `None` for the plugin module.
    pub(crate) module: Option<Ident>,
    pub(crate) name: String,
    pub(crate) docs: String,
    pub(crate) params: Vec<Param>,
    pub(crate) ret: Ret,
}

/// One parameter.
pub(crate) struct Param {
    pub(crate) name: String,
    pub(crate) ty: Ty,
    /// `&str`: the string is passed by reference.
    pub(crate) by_ref: bool,
}

/// What a function returns.
pub(crate) enum Ret {
    /// Nothing (`()`).
    Nothing,
    /// One value.
    Value(Ty),
    /// `impl Iterator<Item = T>`: a stream node; with `Item = Result<T, E>`
    /// the stream ends at the first error, which the caller gets.
    Stream { item: Ty, error: Option<Ty> },
    /// `Channel<I, O>`: a channel node.
    Channel { input: Ty, output: Ty },
}

impl Ret {
    /// Whether the function lives in the module's interface (streams and
    /// channels return resources, which only interfaces have).
    pub(crate) fn in_interface(&self) -> bool {
        matches!(self, Ret::Stream { .. } | Ret::Channel { .. })
    }

    /// The types this result names.
    pub(crate) fn named(&self, out: &mut BTreeSet<usize>) {
        match self {
            Ret::Nothing => {}
            Ret::Value(t) => t.named(out),
            Ret::Stream { item, error } => {
                item.named(out);
                if let Some(e) = error {
                    e.named(out);
                }
            }
            Ret::Channel { input, output } => {
                input.named(out);
                output.named(out);
            }
        }
    }
}

impl Func {
    /// The derived types named in the signature.
    pub(crate) fn named(&self) -> BTreeSet<usize> {
        let mut out = BTreeSet::new();
        for p in &self.params {
            p.ty.named(&mut out);
        }
        self.ret.named(&mut out);
        out
    }
}

/// A type with `#[derive(warden_guest::Type)]`.
pub(crate) struct Def {
    pub(crate) ident: Ident,
    /// The `pub mod` declaring it; `None` for the plugin module.
    pub(crate) module: Option<Ident>,
    pub(crate) name: String,
    pub(crate) docs: String,
    pub(crate) kind: DefKind,
}

/// What a derived type is in WIT.
pub(crate) enum DefKind {
    /// A struct with named fields.
    Record(Vec<Field>),
    /// A struct of `bool`s marked `#[warden(flags)]`.
    Flags(Vec<Field>),
    /// An enum whose cases carry nothing.
    Enum(Vec<Case>),
    /// An enum whose cases carry a value.
    Variant(Vec<Case>),
}

/// A field of a record (or a flag).
pub(crate) struct Field {
    pub(crate) ident: Ident,
    pub(crate) name: String,
    pub(crate) docs: String,
    pub(crate) ty: Ty,
}

/// A case of an enum or variant.
pub(crate) struct Case {
    pub(crate) ident: Ident,
    pub(crate) name: String,
    pub(crate) docs: String,
    pub(crate) payload: Payload,
}

/// What a case carries.
pub(crate) enum Payload {
    /// `Case`.
    None,
    /// `Case(T)`.
    One(Ty),
    /// `Case(A, B, ..)`: a WIT tuple.
    Many(Vec<Ty>),
}

impl Def {
    /// The derived types its fields and cases name.
    fn named(&self) -> BTreeSet<usize> {
        let mut out = BTreeSet::new();
        match &self.kind {
            DefKind::Record(fields) => fields.iter().for_each(|f| f.ty.named(&mut out)),
            DefKind::Flags(_) | DefKind::Enum(_) => {}
            DefKind::Variant(cases) => {
                for case in cases {
                    match &case.payload {
                        Payload::None => {}
                        Payload::One(t) => t.named(&mut out),
                        Payload::Many(ts) => ts.iter().for_each(|t| t.named(&mut out)),
                    }
                }
            }
        }
        out
    }
}

/// Whether `attrs` has a `#[derive(..)]` naming `Type` (as
/// `warden_guest::Type` or imported).
fn derives_type(attrs: &[Attribute]) -> bool {
    attrs.iter().any(|attr| {
        attr.path().is_ident("derive")
            && attr
                .parse_args_with(Punctuated::<Path, Token![,]>::parse_terminated)
                .is_ok_and(|paths| paths.iter().any(is_type_derive))
    })
}

fn is_type_derive(path: &Path) -> bool {
    path.segments.last().is_some_and(|s| s.ident == "Type")
}

/// The helper attribute the plugin attribute adds to the types it has read,
/// telling the `Type` derive that it is inside a plugin module.
pub(crate) const MARKER: &str = "__in_plugin";

/// Marks a derived type as read (see [`MARKER`]).
fn mark_type_derive(attrs: &mut Vec<Attribute>) {
    if derives_type(attrs) {
        let marker = crate::names::ident(MARKER);
        attrs.push(syn::parse_quote!(#[warden(#marker)]));
    }
}

/// Whether `#[warden(flags)]` is among `attrs`.
fn is_flags(attrs: &[Attribute]) -> syn::Result<bool> {
    let mut flags = false;
    for attr in attrs.iter().filter(|a| a.path().is_ident("warden")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("flags") {
                flags = true;
                Ok(())
            } else if meta.path.is_ident(MARKER) {
                Ok(())
            } else {
                Err(meta
                    .error("unknown `warden` attribute; the one there is is `#[warden(flags)]`"))
            }
        })?;
    }
    Ok(flags)
}

/// Collects every error instead of stopping at the first.
#[derive(Default)]
struct Errors(Option<Error>);

impl Errors {
    fn push(&mut self, e: Error) {
        match &mut self.0 {
            Some(all) => all.combine(e),
            None => self.0 = Some(e),
        }
    }

    fn ok<T>(&mut self, r: syn::Result<T>) -> Option<T> {
        r.map_err(|e| self.push(e)).ok()
    }

    fn finish(self) -> syn::Result<()> {
        self.0.map_or(Ok(()), Err)
    }
}

/// The modules whose items the attribute reads: the plugin's own and its
/// `pub mod`s, each with the types declared in it.
struct Modules<'a> {
    /// The plugin module's name, for messages.
    plugin: String,
    /// The plugin module (index 0), then each `pub mod`.
    mods: Vec<ModScope<'a>>,
    /// Every derived type by Rust name, with its index: a node may name a
    /// type of another module it has imported with `use`.
    derived: HashMap<String, usize>,
}

/// The types declared in one module.
struct ModScope<'a> {
    /// The `pub mod`; `None` for the plugin module.
    ident: Option<Ident>,
    /// Derived types by name, with their index.
    derived: HashMap<String, usize>,
    /// Other structs, enums and unions of the module.
    plain: BTreeSet<String>,
    /// `type X = ..;` aliases of the module.
    aliases: HashMap<String, &'a Type>,
}

/// Types in scope in one module of the plugin.
#[derive(Clone, Copy)]
struct Scope<'a> {
    modules: &'a Modules<'a>,
    /// The module's index in [`Modules::mods`].
    at: usize,
}

/// Prepares the module for the compiler once the attribute has read it:
/// marks the derived types and removes the docs on parameters, in the module
/// and in its `pub mod`s.
pub(crate) fn clean(module: &mut ItemMod) {
    clean_items(module, true);
}

fn clean_items(module: &mut ItemMod, outer: bool) {
    let Some((_, items)) = &mut module.content else {
        return;
    };
    for item in items.iter_mut() {
        match item {
            Item::Struct(s) => mark_type_derive(&mut s.attrs),
            Item::Enum(e) => mark_type_derive(&mut e.attrs),
            Item::Union(u) => mark_type_derive(&mut u.attrs),
            Item::Fn(f) => {
                for input in f.sig.inputs.iter_mut() {
                    if let FnArg::Typed(p) = input {
                        p.attrs.retain(|a| !a.path().is_ident("doc"));
                    }
                }
            }
            Item::Mod(m) if outer && matches!(m.vis, Visibility::Public(_)) => {
                clean_items(m, false);
            }
            _ => {}
        }
    }
}

/// Reads `module`: its docs, `pub fn`s, `pub mod`s and derived types.
///
/// # Errors
///
/// Every function or type that cannot cross the plugin boundary, each
/// pointing at the offending code; modules nested too deep; names that
/// clash.
pub(crate) fn read(module: &ItemMod) -> syn::Result<Plugin> {
    let mut errors = Errors::default();
    let name = wit_name(&module.ident)?;
    let plugin_docs = docs(&module.attrs);
    let Some((_, items)) = &module.content else {
        return Err(Error::new(
            module.ident.span(),
            "#[warden_guest::plugin] needs the module's items here: write `mod NAME { .. }` \
             inline, not `mod NAME;`",
        ));
    };

    // The plugin module, then each `pub mod` (an interface): one level deep.
    let mut sources: Vec<(Option<&ItemMod>, &[Item])> = vec![(None, items)];
    for item in items {
        let Item::Mod(m) = item else { continue };
        if !matches!(m.vis, Visibility::Public(_)) {
            continue;
        }
        let Some((_, inner)) = &m.content else {
            errors.push(Error::new(
                m.ident.span(),
                format!(
                    "`pub mod {}` is an interface of the plugin, and #[warden_guest::plugin] \
                     needs its items here: write `pub mod {} {{ .. }}` inline, not \
                     `pub mod {};` (or make it a private `mod` to keep it a helper)",
                    m.ident, m.ident, m.ident
                ),
            ));
            continue;
        };
        for deeper in inner {
            if let Item::Mod(d) = deeper
                && matches!(d.vis, Visibility::Public(_))
            {
                errors.push(Error::new(
                    d.ident.span(),
                    format!(
                        "`pub mod {}` is nested too deep: the `pub mod`s of a plugin module are \
                         its interfaces, and an interface cannot hold another (WIT interfaces \
                         do not nest); move `{}` up beside `{}`, or make it a private `mod` to \
                         keep it a helper",
                        d.ident, d.ident, m.ident
                    ),
                ));
            }
        }
        sources.push((Some(m), inner));
    }

    // The types first: functions refer to them.
    let mut modules = Modules {
        plugin: module.ident.to_string(),
        mods: Vec::new(),
        derived: HashMap::new(),
    };
    let mut count = 0;
    for (m, items) in &sources {
        let mut scope = ModScope {
            ident: m.map(|m| m.ident.clone()),
            derived: HashMap::new(),
            plain: BTreeSet::new(),
            aliases: HashMap::new(),
        };
        for item in items.iter() {
            match item {
                Item::Struct(ItemStruct { attrs, ident, .. })
                | Item::Enum(ItemEnum { attrs, ident, .. }) => {
                    if derives_type(attrs) {
                        scope.derived.insert(ident.to_string(), count);
                        modules.derived.entry(ident.to_string()).or_insert(count);
                        count += 1;
                    } else {
                        scope.plain.insert(ident.to_string());
                    }
                }
                Item::Union(u) => {
                    if derives_type(&u.attrs) {
                        errors.push(Error::new(
                            u.ident.span(),
                            "a union cannot cross the plugin boundary: WIT has no untagged \
                             unions; use an enum (a WIT variant)",
                        ));
                    }
                    scope.plain.insert(u.ident.to_string());
                }
                Item::Type(t) if t.generics.params.is_empty() => {
                    scope.aliases.insert(t.ident.to_string(), &*t.ty);
                }
                _ => {}
            }
        }
        modules.mods.push(scope);
    }

    let mut defs = Vec::new();
    for (at, (_, items)) in sources.iter().enumerate() {
        let scope = Scope {
            modules: &modules,
            at,
        };
        for item in items.iter() {
            match item {
                Item::Struct(s) if derives_type(&s.attrs) => {
                    if let Some(def) = errors.ok(scope.record(s)) {
                        defs.push(def);
                    }
                }
                Item::Enum(e) if derives_type(&e.attrs) => {
                    if let Some(def) = errors.ok(scope.variant(e)) {
                        defs.push(def);
                    }
                }
                _ => {}
            }
        }
    }

    let mut funcs = Vec::new();
    let mut streams = Vec::new();
    let mut interfaces = Vec::new();
    for (at, (m, items)) in sources.iter().enumerate() {
        let scope = Scope {
            modules: &modules,
            at,
        };
        let mut in_module = Vec::new();
        for item in items.iter() {
            if let Item::Fn(f) = item
                && matches!(f.vis, Visibility::Public(_))
                && let Some(func) = errors.ok(scope.func(f))
            {
                in_module.push(func);
            }
        }
        match m {
            None => {
                let (s, plain): (Vec<_>, Vec<_>) =
                    in_module.into_iter().partition(|f| f.ret.in_interface());
                funcs = plain;
                streams = s;
            }
            // A `pub mod` without `pub fn`s holds types or helpers: no
            // interface.
            Some(_) if in_module.is_empty() => {}
            Some(m) => {
                if let Some(iface_name) = errors.ok(wit_name(&m.ident)) {
                    interfaces.push(Interface {
                        module: Some(m.ident.clone()),
                        name: iface_name,
                        docs: docs(&m.attrs),
                        funcs: in_module,
                    });
                }
            }
        }
    }
    errors.finish()?;

    if !streams.is_empty() {
        interfaces.insert(
            0,
            Interface {
                module: None,
                name: name.clone(),
                docs: format!("The stream and channel nodes of `{name}`."),
                funcs: streams,
            },
        );
    }
    if funcs.is_empty() && interfaces.is_empty() {
        return Err(Error::new(
            module.ident.span(),
            format!(
                "`mod {}` exports nothing: a plugin's nodes are the `pub fn`s of its module and \
                 of its `pub mod`s (other items stay private helpers)",
                module.ident
            ),
        ));
    }
    let plugin = Plugin {
        ident: module.ident.clone(),
        name,
        docs: plugin_docs,
        funcs,
        interfaces,
        defs,
    };
    plugin.check_names()?;
    plugin.check_interfaces()?;
    plugin.check_acyclic()?;
    Ok(plugin)
}

impl Scope<'_> {
    /// The `pub mod` this scope is; `None` for the plugin module.
    fn module(&self) -> Option<&Ident> {
        self.modules.mods[self.at].ident.as_ref()
    }

    /// The same types seen from module `at`.
    fn at(&self, at: usize) -> Self {
        Scope { at, ..*self }
    }

    /// The generated code lives beside the `pub mod`s, in the plugin
    /// module: it reaches a type (or field) declared in a `pub mod` only
    /// when that is not private.
    fn visible(&self, vis: &Visibility, at: &Ident, what: &str) -> syn::Result<()> {
        match (self.module(), vis) {
            (Some(m), Visibility::Inherited) => Err(Error::new(
                at.span(),
                format!(
                    "{what} is declared in `pub mod {m}`, and the code #[warden_guest::plugin] \
                     generates in `mod {}` converts it: make it `pub` (or `pub(super)`)",
                    self.modules.plugin
                ),
            )),
            _ => Ok(()),
        }
    }

    fn record(&self, s: &ItemStruct) -> syn::Result<Def> {
        no_generics(&s.generics, &s.ident, "type")?;
        let flags = is_flags(&s.attrs)?;
        self.visible(&s.vis, &s.ident, &format!("`{}`", s.ident))?;
        let Fields::Named(named) = &s.fields else {
            return Err(Error::new(
                s.ident.span(),
                format!(
                    "`{}` cannot cross the plugin boundary: a WIT record has named fields; \
                     write `struct {} {{ name: T, .. }}`",
                    s.ident, s.ident
                ),
            ));
        };
        if named.named.is_empty() {
            return Err(Error::new(
                s.ident.span(),
                format!(
                    "`{}` cannot cross the plugin boundary: a WIT record needs at least one field",
                    s.ident
                ),
            ));
        }
        if flags && named.named.len() > 32 {
            return Err(Error::new(
                s.ident.span(),
                "WIT flags have at most 32 members; split the struct",
            ));
        }
        let mut errors = Errors::default();
        let mut fields = Vec::new();
        for field in &named.named {
            // Invariant: the fields of `Fields::Named` have names.
            let Some(ident) = field.ident.clone() else {
                continue;
            };
            if let Err(e) = self.visible(
                &field.vis,
                &ident,
                &format!("the field `{}.{ident}`", s.ident),
            ) {
                errors.push(e);
            }
            let ty = if flags {
                if !is_bool(&field.ty) {
                    errors.push(Error::new_spanned(
                        &field.ty,
                        format!(
                            "`{}` is `#[warden(flags)]`, so every field is a flag and must be \
                             `bool`; `{}` is `{}`",
                            s.ident,
                            ident,
                            show(&field.ty)
                        ),
                    ));
                }
                Ty::Prim(Prim::Bool)
            } else {
                match errors.ok(self.ty(&field.ty)) {
                    Some(t) => t,
                    None => continue,
                }
            };
            if let Some(name) = errors.ok(wit_name(&ident)) {
                fields.push(Field {
                    name,
                    docs: docs(&field.attrs),
                    ident,
                    ty,
                });
            }
        }
        errors.finish()?;
        Ok(Def {
            name: wit_name(&s.ident)?,
            docs: docs(&s.attrs),
            ident: s.ident.clone(),
            module: self.module().cloned(),
            kind: if flags {
                DefKind::Flags(fields)
            } else {
                DefKind::Record(fields)
            },
        })
    }

    fn variant(&self, e: &ItemEnum) -> syn::Result<Def> {
        no_generics(&e.generics, &e.ident, "type")?;
        self.visible(&e.vis, &e.ident, &format!("`{}`", e.ident))?;
        if is_flags(&e.attrs)? {
            return Err(Error::new(
                e.ident.span(),
                "`#[warden(flags)]` goes on a struct of `bool` fields, not on an enum",
            ));
        }
        if e.variants.is_empty() {
            return Err(Error::new(
                e.ident.span(),
                format!(
                    "`{}` cannot cross the plugin boundary: a WIT enum or variant needs at least \
                     one case",
                    e.ident
                ),
            ));
        }
        let mut errors = Errors::default();
        let mut cases = Vec::new();
        for v in &e.variants {
            let payload = match &v.fields {
                Fields::Unit => Payload::None,
                Fields::Unnamed(f) if f.unnamed.len() == 1 => {
                    match errors.ok(self.ty(&f.unnamed[0].ty)) {
                        Some(t) => Payload::One(t),
                        None => continue,
                    }
                }
                Fields::Unnamed(f) => {
                    let tys: Vec<_> = f
                        .unnamed
                        .iter()
                        .map(|f| errors.ok(self.ty(&f.ty)))
                        .collect();
                    match tys.into_iter().collect::<Option<Vec<_>>>() {
                        Some(t) => Payload::Many(t),
                        None => continue,
                    }
                }
                Fields::Named(_) => {
                    errors.push(Error::new(
                        v.ident.span(),
                        format!(
                            "`{}::{}` cannot cross the plugin boundary: a WIT variant case \
                             carries one value, not named fields; write `{}(T)` with a struct `T` \
                             that derives `warden_guest::Type`, or `{}(A, B)` (a tuple)",
                            e.ident, v.ident, v.ident, v.ident
                        ),
                    ));
                    continue;
                }
            };
            if let Some(name) = errors.ok(wit_name(&v.ident)) {
                cases.push(Case {
                    ident: v.ident.clone(),
                    name,
                    docs: docs(&v.attrs),
                    payload,
                });
            }
        }
        errors.finish()?;
        let unit_only = cases.iter().all(|c| matches!(c.payload, Payload::None));
        Ok(Def {
            name: wit_name(&e.ident)?,
            docs: docs(&e.attrs),
            ident: e.ident.clone(),
            module: self.module().cloned(),
            kind: if unit_only {
                DefKind::Enum(cases)
            } else {
                DefKind::Variant(cases)
            },
        })
    }

    fn func(&self, f: &ItemFn) -> syn::Result<Func> {
        let sig = &f.sig;
        let name = &sig.ident;
        if let Some(a) = &sig.asyncness {
            return Err(Error::new(
                a.span,
                format!(
                    "`async fn {name}` cannot be a node: the host calls plugins without \
                     component-model async; make it a plain `fn` (block inside it if you must)"
                ),
            ));
        }
        if let Some(u) = &sig.unsafety {
            return Err(Error::new(
                u.span,
                format!(
                    "`unsafe fn {name}` cannot be a node: its callers cannot uphold a safety \
                     contract; make it safe and keep the `unsafe` block inside"
                ),
            ));
        }
        if let Some(abi) = &sig.abi {
            return Err(Error::new_spanned(
                abi,
                format!("`{name}` cannot be a node with an explicit ABI; remove `extern`"),
            ));
        }
        no_generics(&sig.generics, name, "function")?;
        if let Some(v) = &sig.variadic {
            return Err(Error::new_spanned(
                v,
                format!("`{name}` cannot be a node: WIT functions are not variadic"),
            ));
        }
        let mut doc_text = docs(&f.attrs);
        let mut param_docs = Vec::new();
        let mut errors = Errors::default();
        let mut params = Vec::new();
        let ret = errors.ok(self.ret(&sig.output));
        let in_interface = ret.as_ref().is_some_and(Ret::in_interface);
        for input in &f.sig.inputs {
            let pat = match input {
                FnArg::Receiver(r) => {
                    errors.push(Error::new_spanned(
                        r,
                        format!("`{name}` cannot take `self`: nodes are plain functions"),
                    ));
                    continue;
                }
                FnArg::Typed(p) => p,
            };
            let Pat::Ident(pi) = &*pat.pat else {
                errors.push(Error::new_spanned(
                    &pat.pat,
                    "name this parameter (`name: Type`): its name is the node's parameter name; \
                     destructure inside the function",
                ));
                continue;
            };
            if pi.by_ref.is_some() || pi.subpat.is_some() {
                errors.push(Error::new_spanned(
                    &pat.pat,
                    "write this parameter as `name: Type`",
                ));
                continue;
            }
            let param_doc = docs(&pat.attrs);
            let Some(pname) = errors.ok(wit_name(&pi.ident)) else {
                continue;
            };
            if !param_doc.is_empty() {
                param_docs.push(format!("- `{pname}`: {}", param_doc.replace('\n', "\n  ")));
            }
            let (ty, by_ref) = match &*pat.ty {
                Type::Reference(r) if r.mutability.is_none() && is_ident(&r.elem, "str") => {
                    if in_interface {
                        errors.push(Error::new_spanned(
                            &pat.ty,
                            format!(
                                "`{name}` returns a stream or channel that may outlive its \
                                 arguments, so it takes `String`, not `&str`"
                            ),
                        ));
                        continue;
                    }
                    (Ty::Prim(Prim::String), true)
                }
                other => match errors.ok(self.ty(other)) {
                    Some(t) => (t, false),
                    None => continue,
                },
            };
            params.push(Param {
                name: pname,
                ty,
                by_ref,
            });
        }
        errors.finish()?;
        if !param_docs.is_empty() {
            if !doc_text.is_empty() {
                doc_text.push_str("\n\n");
            }
            doc_text.push_str(&param_docs.join("\n"));
        }
        Ok(Func {
            name: wit_name(&f.sig.ident)?,
            ident: f.sig.ident.clone(),
            module: self.module().cloned(),
            docs: doc_text,
            params,
            ret: ret.unwrap_or(Ret::Nothing),
        })
    }

    fn ret(&self, output: &ReturnType) -> syn::Result<Ret> {
        let ty = match output {
            ReturnType::Default => return Ok(Ret::Nothing),
            ReturnType::Type(_, ty) => unwrap_group(ty),
        };
        if let Type::Tuple(t) = ty
            && t.elems.is_empty()
        {
            return Ok(Ret::Nothing);
        }
        if let Type::ImplTrait(it) = ty {
            return self.stream(ty, &it.bounds);
        }
        if let Some(args) = generic_of(ty, "Box")
            && let [GenericArgument::Type(Type::TraitObject(obj))] = args.as_slice()
            && obj.bounds.iter().any(|b| bound_named(b, "Iterator"))
        {
            return self.stream(ty, &obj.bounds);
        }
        if let Some(args) = generic_of(ty, "Channel") {
            let [GenericArgument::Type(i), GenericArgument::Type(o)] = args.as_slice() else {
                return Err(Error::new_spanned(
                    ty,
                    "a channel node returns `Channel<I, O>`: the messages it takes and the \
                     answers it sends",
                ));
            };
            return Ok(Ret::Channel {
                input: self.ty(i)?,
                output: self.ty(o)?,
            });
        }
        Ok(Ret::Value(self.ty(ty)?))
    }

    /// `impl Iterator<Item = T>` (or `Box<dyn Iterator<Item = T>>`).
    fn stream(
        &self,
        ty: &Type,
        bounds: &Punctuated<TypeParamBound, Token![+]>,
    ) -> syn::Result<Ret> {
        let mut item = None;
        for bound in bounds {
            match bound {
                TypeParamBound::Trait(t)
                    if t.path
                        .segments
                        .last()
                        .is_some_and(|s| s.ident == "Iterator") =>
                {
                    if let Some(last) = t.path.segments.last()
                        && let PathArguments::AngleBracketed(args) = &last.arguments
                    {
                        for arg in &args.args {
                            if let GenericArgument::AssocType(a) = arg
                                && a.ident == "Item"
                            {
                                item = Some(&a.ty);
                            }
                        }
                    }
                }
                TypeParamBound::Lifetime(_) => {}
                TypeParamBound::Trait(t) if is_marker(&t.path) => {}
                other => {
                    return Err(Error::new_spanned(
                        other,
                        format!(
                            "`{}` cannot cross the plugin boundary: the only `impl Trait` a node \
                             returns is `impl Iterator<Item = T>` (a stream node)",
                            show(ty)
                        ),
                    ));
                }
            }
        }
        let Some(item) = item else {
            return Err(Error::new_spanned(
                ty,
                format!(
                    "`{}` cannot cross the plugin boundary: a stream node returns \
                     `impl Iterator<Item = T>`, naming `T`",
                    show(ty)
                ),
            ));
        };
        if let Some(args) = generic_of(item, "Result")
            && let [GenericArgument::Type(ok), GenericArgument::Type(err)] = args.as_slice()
        {
            let Some(error) = self.unit_or(err)? else {
                return Err(Error::new_spanned(
                    err,
                    "a stream's error cannot be `()`: the caller gets it as the error's details; \
                     use `String`",
                ));
            };
            return Ok(Ret::Stream {
                item: self.ty(ok)?,
                error: Some(error),
            });
        }
        Ok(Ret::Stream {
            item: self.ty(item)?,
            error: None,
        })
    }

    /// `None` for `()`, else the type.
    fn unit_or(&self, ty: &Type) -> syn::Result<Option<Ty>> {
        match unwrap_group(ty) {
            Type::Tuple(t) if t.elems.is_empty() => Ok(None),
            other => self.ty(other).map(Some),
        }
    }

    /// The WIT type of `ty`.
    fn ty(&self, ty: &Type) -> syn::Result<Ty> {
        self.ty_at(ty, 0)
    }

    fn ty_at(&self, ty: &Type, depth: usize) -> syn::Result<Ty> {
        let ty = unwrap_group(ty);
        match ty {
            Type::Tuple(t) if t.elems.is_empty() => Err(cannot(
                ty,
                "`()` is only allowed as a result, or as one side of a `Result`",
                "leave it out",
            )),
            Type::Tuple(t) => Ok(Ty::Tuple(
                t.elems
                    .iter()
                    .map(|e| self.ty_at(e, depth))
                    .collect::<syn::Result<_>>()?,
            )),
            Type::Path(p) if p.qself.is_none() => self.path(ty, &p.path, depth),
            Type::Reference(r) => {
                let instead = if is_ident(&r.elem, "str") {
                    "`&str` only as a parameter; here use `String`".to_owned()
                } else if let Type::Slice(s) = &*r.elem {
                    format!("use `Vec<{}>`", show(&s.elem))
                } else {
                    format!("use the owned type `{}`", show(&r.elem))
                };
                Err(cannot(
                    ty,
                    "a node gets and returns owned values, not references",
                    &instead,
                ))
            }
            Type::Slice(s) => Err(cannot(
                ty,
                "a slice has no size",
                &format!("use `Vec<{}>`", show(&s.elem)),
            )),
            Type::Array(a) => Err(cannot(
                ty,
                "WIT has no fixed-size arrays",
                &format!("use `Vec<{}>`", show(&a.elem)),
            )),
            Type::ImplTrait(_) => Err(cannot(
                ty,
                "`impl Trait` is only allowed as a node's result, as `impl Iterator<Item = T>` \
                 (a stream node)",
                "use a concrete type",
            )),
            Type::TraitObject(_) => Err(cannot(
                ty,
                "a trait object is code, not data",
                "use a concrete type",
            )),
            Type::BareFn(_) => Err(cannot(
                ty,
                "functions cannot be sent",
                "use data (a derived enum can name what to do)",
            )),
            Type::Ptr(_) => Err(cannot(
                ty,
                "a pointer means nothing outside the plugin",
                "use the value itself",
            )),
            Type::Never(_) => Err(cannot(ty, "`!` has no values", "use `()`")),
            _ => Err(cannot(ty, "WIT has no such type", SUPPORTED)),
        }
    }

    fn path(&self, ty: &Type, path: &Path, depth: usize) -> syn::Result<Ty> {
        let mut segments: Vec<_> = path.segments.iter().collect();
        // `self::T`, `super::T` (in a `pub mod`) and `MODULE::T` (a `pub mod`
        // of the plugin module) name types the attribute has read.
        let mut scope = *self;
        let mut qualified = false;
        if segments.len() > 1 && segments[0].ident == "self" {
            segments.remove(0);
        }
        if segments.len() > 1 && segments[0].ident == "super" && scope.at != 0 {
            segments.remove(0);
            scope = scope.at(0);
            qualified = true;
        }
        if segments.len() > 1
            && scope.at == 0
            && path.leading_colon.is_none()
            && let Some(at) = self
                .modules
                .mods
                .iter()
                .position(|m| m.ident.as_ref().is_some_and(|m| segments[0].ident == *m))
        {
            segments.remove(0);
            scope = scope.at(at);
            qualified = true;
        }
        let Some(last) = segments.last() else {
            return Err(cannot(ty, "it is not a type", SUPPORTED));
        };
        let from_std = segments.len() == 1
            || ["std", "alloc", "core"].contains(&segments[0].ident.to_string().as_str());
        let name = last.ident.to_string();
        let args: Vec<&Type> = match &last.arguments {
            PathArguments::None => Vec::new(),
            PathArguments::AngleBracketed(a) => {
                let mut tys = Vec::new();
                for arg in &a.args {
                    match arg {
                        GenericArgument::Type(t) => tys.push(t),
                        GenericArgument::Lifetime(_) => {
                            return Err(cannot(
                                ty,
                                "a type with a lifetime borrows, and a node gets and returns \
                                 owned values",
                                "use an owned type",
                            ));
                        }
                        _ => {
                            return Err(cannot(
                                ty,
                                "WIT types take type arguments only",
                                SUPPORTED,
                            ));
                        }
                    }
                }
                tys
            }
            PathArguments::Parenthesized(_) => {
                return Err(cannot(ty, "functions cannot be sent", "use data"));
            }
        };
        if !from_std {
            return Err(Error::new_spanned(
                ty,
                format!(
                    "`{}` cannot cross the plugin boundary: it is declared outside `mod {}`; the \
                     types a node takes and returns are declared inside the module (or one of \
                     its `pub mod`s) with `#[derive(warden_guest::Type)]`",
                    show(ty),
                    self.modules.plugin
                ),
            ));
        }
        let arity = |n: usize| -> syn::Result<()> {
            if args.len() == n {
                Ok(())
            } else {
                Err(Error::new_spanned(
                    ty,
                    format!(
                        "`{name}` takes {n} type argument(s), `{}` has {}",
                        show(ty),
                        args.len()
                    ),
                ))
            }
        };
        if let Some(prim) = Prim::from_name(&name) {
            arity(0)?;
            return Ok(Ty::Prim(prim));
        }
        let arg = |i: usize| self.ty_at(args[i], depth);
        match name.as_str() {
            "Vec" => {
                arity(1)?;
                return Ok(Ty::List(Box::new(arg(0)?)));
            }
            "Option" => {
                arity(1)?;
                return Ok(Ty::Option(Box::new(arg(0)?)));
            }
            "Result" => {
                arity(2)?;
                return Ok(Ty::Result(
                    self.unit_or(args[0])?.map(Box::new),
                    self.unit_or(args[1])?.map(Box::new),
                ));
            }
            "HashMap" | "BTreeMap" | "IndexMap" => {
                let instead = match args.as_slice() {
                    [k, v] => format!("use `Vec<({}, {})>`", show(k), show(v)),
                    _ => "use a `Vec` of key-value tuples".to_owned(),
                };
                return Err(cannot(ty, "WIT has no map type", &instead));
            }
            "HashSet" | "BTreeSet" | "IndexSet" | "VecDeque" | "LinkedList" | "BinaryHeap" => {
                let instead = match args.as_slice() {
                    [t] => format!("use `Vec<{}>`", show(t)),
                    _ => "use a `Vec`".to_owned(),
                };
                return Err(cannot(ty, "WIT's only collection is `list<T>`", &instead));
            }
            "Box" | "Rc" | "Arc" | "Cow" | "RefCell" | "Cell" | "Mutex" => {
                let instead = match args.as_slice() {
                    [t] => format!("use `{}` itself", show(t)),
                    _ => "use the value itself".to_owned(),
                };
                return Err(cannot(ty, "values cross the boundary by copy", &instead));
            }
            "u128" | "i128" => {
                return Err(cannot(
                    ty,
                    "WIT integers have at most 64 bits",
                    "use `u64`/`i64`, or a `String` for larger numbers",
                ));
            }
            "usize" | "isize" => {
                return Err(cannot(
                    ty,
                    "its width depends on the target",
                    "use `u32` or `u64` (`i32` or `i64`)",
                ));
            }
            "str" => {
                return Err(cannot(ty, "WIT strings are owned", "use `String`"));
            }
            "Channel" => {
                return Err(cannot(
                    ty,
                    "a `Channel` is only a node's result (a channel node), not a value",
                    "return it from a `pub fn`",
                ));
            }
            "Self" => {
                return Err(cannot(ty, "nodes are plain functions", "name the type"));
            }
            _ => {}
        }
        if segments.len() == 1 {
            let local = &self.modules.mods[scope.at];
            if let Some(&index) = local.derived.get(&name) {
                arity(0)?;
                return Ok(Ty::Named(index));
            }
            if local.plain.contains(&name) {
                return Err(not_derived(ty, &name));
            }
            if let Some(alias) = local.aliases.get(&name) {
                return scope.alias(ty, &name, alias, depth);
            }
            if !qualified {
                // Imported with `use` from another module of the plugin.
                if let Some(&index) = self.modules.derived.get(&name) {
                    arity(0)?;
                    return Ok(Ty::Named(index));
                }
                for (at, m) in self.modules.mods.iter().enumerate() {
                    if let Some(alias) = m.aliases.get(&name) {
                        return self.at(at).alias(ty, &name, alias, depth);
                    }
                }
                if self.modules.mods.iter().any(|m| m.plain.contains(&name)) {
                    return Err(not_derived(ty, &name));
                }
            }
        }
        Err(Error::new_spanned(
            ty,
            format!(
                "`{}` cannot cross the plugin boundary: it is neither a WIT type nor declared in \
                 `mod {}` with #[derive(warden_guest::Type)]; {SUPPORTED}",
                show(ty),
                self.modules.plugin
            ),
        ))
    }

    /// The type behind alias `name` (`type NAME = alias;` in this scope's
    /// module).
    fn alias(&self, ty: &Type, name: &str, alias: &Type, depth: usize) -> syn::Result<Ty> {
        if depth > 16 {
            return Err(cannot(ty, "its type alias does not end", "name the type"));
        }
        self.ty_at(alias, depth + 1).map_err(|mut e| {
            e.combine(Error::new_spanned(
                ty,
                format!("`{name}` is an alias of a type that cannot cross"),
            ));
            e
        })
    }
}

/// "`NAME` does not derive `Type`".
fn not_derived(ty: &Type, name: &str) -> Error {
    Error::new_spanned(
        ty,
        format!(
            "`{name}` cannot cross the plugin boundary: it does not derive `warden_guest::Type`; \
             add #[derive(warden_guest::Type)] to `{name}` to make it a WIT record, enum or \
             variant"
        ),
    )
}

impl Plugin {
    /// Every node function: the world's, then each interface's.
    pub(crate) fn all_funcs(&self) -> impl Iterator<Item = &Func> {
        self.funcs
            .iter()
            .chain(self.interfaces.iter().flat_map(|i| &i.funcs))
    }

    /// No two functions of a module, types, fields or cases share a WIT
    /// name.
    fn check_names(&self) -> syn::Result<()> {
        let mut errors = Errors::default();
        // The plugin module's plain and stream functions are Rust items of
        // one module, so report their clashes together.
        let streams = self.interfaces.iter().filter(|i| i.module.is_none());
        unique(
            &mut errors,
            "functions",
            self.funcs
                .iter()
                .chain(streams.flat_map(|i| &i.funcs))
                .map(|f| (&f.name, &f.ident)),
        );
        for iface in self.interfaces.iter().filter(|i| i.module.is_some()) {
            unique(
                &mut errors,
                "functions",
                iface.funcs.iter().map(|f| (&f.name, &f.ident)),
            );
        }
        let modules = self
            .interfaces
            .iter()
            .filter_map(|i| Some((&i.name, i.module.as_ref()?)));
        unique(&mut errors, "modules", modules);
        unique(
            &mut errors,
            "types",
            self.defs.iter().map(|d| (&d.name, &d.ident)),
        );
        for d in &self.defs {
            match &d.kind {
                DefKind::Record(f) | DefKind::Flags(f) => {
                    unique(&mut errors, "fields", f.iter().map(|f| (&f.name, &f.ident)));
                }
                DefKind::Enum(c) | DefKind::Variant(c) => {
                    unique(&mut errors, "cases", c.iter().map(|c| (&c.name, &c.ident)));
                }
            }
        }
        for iface in &self.interfaces {
            iface.check_names(self, &mut errors);
        }
        for f in self.all_funcs().filter(|f| f.ret.in_interface()) {
            let resource = crate::wit::resource_name(f);
            if let Some(d) = self.defs.iter().find(|d| d.name == resource) {
                errors.push(Error::new(
                    d.ident.span(),
                    format!(
                        "the WIT name `{resource}` of `{}` is taken by the resource of node \
                         `{}`; rename the type",
                        d.ident, f.ident
                    ),
                ));
            }
        }
        errors.finish()
    }

    /// No interface is named like another, like the interface of the
    /// derived types, like the world or like a function the world exports:
    /// interfaces and worlds share the package's names, and the world's
    /// exports share the world's.
    fn check_interfaces(&self) -> syn::Result<()> {
        let layout = crate::wit::Layout::of(self);
        let mut errors = Errors::default();
        let mut seen: HashMap<&str, &Interface> = HashMap::new();
        for iface in &self.interfaces {
            let name = &iface.name;
            // What the interface is, and where to point.
            let (what, span) = match &iface.module {
                Some(m) => (format!("`pub mod {m}` is the interface `{name}`"), m.span()),
                None => (
                    format!(
                        "the stream and channel nodes of `mod {}` ({}) go into an interface \
                         named after the module, `{name}`",
                        self.ident,
                        list(&iface.funcs)
                    ),
                    iface
                        .funcs
                        .first()
                        .map_or(self.ident.span(), |f| f.ident.span()),
                ),
            };
            // `types` stays free for the derived types even before there are
            // any (the plugin module `types` moves them to `plugin-types`).
            let types =
                layout.types.as_ref() == Some(name) || (iface.module.is_some() && name == "types");
            let clash = if types {
                Some(format!(
                    "{what}, but the name `{name}` is kept for the interface of the plugin's \
                     derived types (`#[derive(warden_guest::Type)]`); rename the module"
                ))
            } else if let Some(other) = seen.get(name.as_str()) {
                // Two `pub mod`s with the same kebab-case name are reported
                // by `check_names`.
                other.module.is_none().then(|| {
                    format!(
                        "{what}, but that is the interface of the stream and channel nodes of \
                         `mod {}` ({}); rename the module, or move those functions into it",
                        self.ident,
                        list(&other.funcs)
                    )
                })
            } else if *name == layout.world {
                Some(format!(
                    "{what}, but `{name}` is the name of the plugin's world; rename the module"
                ))
            } else {
                self.funcs.iter().find(|f| f.name == *name).map(|f| {
                    format!(
                        "{what}, and the world also exports `fn {}` as `{name}`: functions and \
                         interfaces share the world's exports; rename one",
                        f.ident
                    )
                })
            };
            if let Some(message) = clash {
                errors.push(Error::new(span, message));
            }
            seen.entry(name).or_insert(iface);
        }
        errors.finish()
    }

    /// No derived type contains itself: WIT types are not recursive.
    fn check_acyclic(&self) -> syn::Result<()> {
        fn visit(
            defs: &[Def],
            at: usize,
            path: &mut Vec<usize>,
            done: &mut [bool],
        ) -> Option<Vec<usize>> {
            if let Some(start) = path.iter().position(|&p| p == at) {
                return Some(path[start..].to_vec());
            }
            if done[at] {
                return None;
            }
            path.push(at);
            for next in defs[at].named() {
                if let Some(cycle) = visit(defs, next, path, done) {
                    return Some(cycle);
                }
            }
            path.pop();
            done[at] = true;
            None
        }
        let mut done = vec![false; self.defs.len()];
        for i in 0..self.defs.len() {
            if let Some(cycle) = visit(&self.defs, i, &mut Vec::new(), &mut done) {
                let names: Vec<String> = cycle
                    .iter()
                    .chain(cycle.first())
                    .map(|&i| format!("`{}`", self.defs[i].ident))
                    .collect();
                return Err(Error::new(
                    self.defs[cycle[0]].ident.span(),
                    format!(
                        "`{}` cannot cross the plugin boundary: it contains itself ({}), and WIT \
                         types cannot be recursive; flatten it (e.g. a `Vec` of nodes with \
                         indices)",
                        self.defs[cycle[0]].ident,
                        names.join(" → ")
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The derived types reachable from the functions, in declaration order.
    pub(crate) fn reachable(&self) -> Vec<usize> {
        let mut seen = BTreeSet::new();
        let mut todo: Vec<usize> = self.all_funcs().flat_map(Func::named).collect();
        while let Some(i) = todo.pop() {
            if seen.insert(i) {
                todo.extend(self.defs[i].named());
            }
        }
        seen.into_iter().collect()
    }
}

impl Interface {
    /// In a WIT interface (unlike a world) functions share their names with
    /// the types the interface uses and the resources it declares.
    fn check_names(&self, plugin: &Plugin, errors: &mut Errors) {
        let used: BTreeSet<usize> = self.funcs.iter().flat_map(Func::named).collect();
        for f in &self.funcs {
            let what = match &f.module {
                Some(m) => format!("`{}` in `pub mod {m}`", f.ident),
                None => format!("the stream or channel node `{}`", f.ident),
            };
            if let Some(d) = used
                .iter()
                .map(|&i| &plugin.defs[i])
                .find(|d| d.name == f.name)
            {
                errors.push(Error::new(
                    f.ident.span(),
                    format!(
                        "{what} is the function `{}` of the interface `{}`, which also uses the \
                         type `{}` (`{}`): in a WIT interface functions and types share names; \
                         rename one",
                        f.name, self.name, d.name, d.ident
                    ),
                ));
            }
            let resource = self
                .funcs
                .iter()
                .find(|g| g.ret.in_interface() && crate::wit::resource_name(g) == f.name);
            if let Some(g) = resource {
                errors.push(Error::new(
                    f.ident.span(),
                    format!(
                        "{what} is the function `{}` of the interface `{}`, the name of the \
                         resource of node `{}`; rename it",
                        f.name, self.name, g.ident
                    ),
                ));
            }
        }
    }
}

/// `` `a`, `b` `` for the Rust names of `funcs`.
fn list(funcs: &[Func]) -> String {
    funcs
        .iter()
        .map(|f| format!("`{}`", f.ident))
        .collect::<Vec<_>>()
        .join(", ")
}

/// An error for each name in `names` that an earlier one already has.
fn unique<'a>(
    errors: &mut Errors,
    what: &str,
    names: impl Iterator<Item = (&'a String, &'a Ident)>,
) {
    let mut seen: HashMap<&String, &Ident> = HashMap::new();
    for (name, ident) in names {
        match seen.get(name) {
            Some(first) => errors.push(Error::new(
                ident.span(),
                format!(
                    "{what} `{first}` and `{ident}` have the same WIT name `{name}`; rename one"
                ),
            )),
            None => {
                seen.insert(name, ident);
            }
        }
    }
}

/// What the error messages suggest.
const SUPPORTED: &str = "use `bool`, `i8`..`i64`, `u8`..`u64`, `f32`, `f64`, `char`, `String`, \
                         `Vec<T>`, `Option<T>`, `Result<T, E>`, a tuple, or a struct or enum \
                         declared in the module with #[derive(warden_guest::Type)]";

/// "`T` cannot cross the plugin boundary: WHY; INSTEAD".
fn cannot(ty: &Type, why: &str, instead: &str) -> Error {
    Error::new_spanned(
        ty,
        format!(
            "`{}` cannot cross the plugin boundary: {why}; {instead}",
            show(ty)
        ),
    )
}

fn no_generics(generics: &syn::Generics, name: &Ident, what: &str) -> syn::Result<()> {
    if generics.params.is_empty() && generics.where_clause.is_none() {
        return Ok(());
    }
    let why = if generics.lifetimes().next().is_some() && generics.type_params().next().is_none() {
        "it has lifetime parameters, and nodes take and return owned values"
    } else {
        "WIT has no generics: every node and type has concrete types"
    };
    Err(Error::new_spanned(
        generics,
        format!(
            "generic {what} `{name}` cannot cross the plugin boundary: {why}; write one {what} \
             per concrete type"
        ),
    ))
}

/// `ty` without invisible groups and parentheses.
fn unwrap_group(ty: &Type) -> &Type {
    match ty {
        Type::Group(g) => unwrap_group(&g.elem),
        Type::Paren(p) => unwrap_group(&p.elem),
        other => other,
    }
}

fn is_ident(ty: &Type, name: &str) -> bool {
    matches!(unwrap_group(ty), Type::Path(p) if p.qself.is_none() && p.path.is_ident(name))
}

fn is_bool(ty: &Type) -> bool {
    is_ident(ty, "bool")
}

/// `Send`, `Sync`, `Unpin`: bounds that change nothing for a stream.
fn is_marker(path: &Path) -> bool {
    path.segments
        .last()
        .is_some_and(|s| ["Send", "Sync", "Unpin"].contains(&s.ident.to_string().as_str()))
}

fn bound_named(bound: &TypeParamBound, name: &str) -> bool {
    matches!(bound, TypeParamBound::Trait(t) if t.path.segments.last().is_some_and(|s| s.ident == name))
}

/// The generic arguments of `ty` when it is `NAME<..>` (any path ending in NAME).
fn generic_of<'a>(ty: &'a Type, name: &str) -> Option<Vec<&'a GenericArgument>> {
    let Type::Path(p) = unwrap_group(ty) else {
        return None;
    };
    let last = p.path.segments.last()?;
    if last.ident != name {
        return None;
    }
    match &last.arguments {
        PathArguments::AngleBracketed(a) => Some(a.args.iter().collect()),
        _ => Some(Vec::new()),
    }
}

/// A type as the user wrote it, spaced as rustfmt would.
pub(crate) fn show(ty: &impl ToTokens) -> String {
    let text = ty.to_token_stream().to_string();
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == ' ' {
            let prev = out.chars().last();
            let next = chars.peek().copied();
            let glue_before = matches!(next, Some('<' | '>' | ',' | ':' | ')' | ']'));
            let glue_after = matches!(prev, Some('<' | '&' | ':' | '(' | '['));
            if glue_before || glue_after {
                continue;
            }
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_are_shown_compactly() {
        let ty: Type = syn::parse_quote!(HashMap<String, Vec<(u8, i32)>>);
        assert_eq!(show(&ty), "HashMap<String, Vec<(u8, i32)>>");
        let ty: Type = syn::parse_quote!(&[u8]);
        assert_eq!(show(&ty), "&[u8]");
        let ty: Type = syn::parse_quote!(std::collections::HashMap<String, i32>);
        assert_eq!(show(&ty), "std::collections::HashMap<String, i32>");
    }
}
