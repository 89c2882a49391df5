//! The WIT a `#[plugin]` module stands for.
//!
//! ```wit
//! package warden-plugin:zoo;
//!
//! interface types {          // the derived types, when there are any
//!     record point { x: f64, y: f64 }
//! }
//!
//! interface zoo {            // stream and channel nodes, when there are any
//!     use types.{point};
//!     resource count-stream { next: func() -> option<u64>; }
//!     count: func(n: u64) -> count-stream;
//! }
//!
//! interface geometry {       // one per `pub mod` with `pub fn`s
//!     use types.{point};
//!     norm: func(p: point) -> f64;
//! }
//!
//! world zoo-plugin {         // `zoo` when there is no interface `zoo`
//!     use types.{point};
//!     export zoo;
//!     export geometry;
//!     export add: func(a: s64, b: s64) -> s64;
//! }
//! ```

use std::collections::BTreeSet;
use std::fmt::Write;

use crate::model::{Def, DefKind, Func, Interface, Payload, Plugin, Ret, Ty};
use crate::names::wit_ident;

/// The WIT namespace of the packages the attribute makes.
pub(crate) const NAMESPACE: &str = "warden-plugin";

/// The names of the package, world and types interface of a plugin.
pub(crate) struct Layout {
    /// `warden-plugin:NAME`.
    pub(crate) package: String,
    /// The package's name part (`NAME`).
    pub(crate) package_name: String,
    /// The world: the module's name, or `NAME-plugin` when an interface
    /// (most often the one of the stream and channel nodes) already has the
    /// module's name (worlds and interfaces share a package's namespace).
    pub(crate) world: String,
    /// The interface of the derived types, when there are any.
    pub(crate) types: Option<String>,
}

impl Layout {
    /// The layout of `plugin`.
    pub(crate) fn of(plugin: &Plugin) -> Layout {
        let types = (!plugin.defs.is_empty()).then(|| {
            if plugin.name == "types" {
                "plugin-types".to_owned()
            } else {
                "types".to_owned()
            }
        });
        let world = if plugin.interfaces.iter().any(|i| i.name == plugin.name) {
            format!("{}-plugin", plugin.name)
        } else {
            plugin.name.clone()
        };
        Layout {
            package: format!("{NAMESPACE}:{}", plugin.name),
            package_name: plugin.name.clone(),
            world,
            types,
        }
    }

    /// The world's qualified name, for `generate!`.
    pub(crate) fn world_id(&self) -> String {
        format!("{}/{}", self.package, self.world)
    }
}

/// The resource a stream or channel node `f` returns: `f-stream` or
/// `f-channel`.
pub(crate) fn resource_name(f: &Func) -> String {
    match f.ret {
        Ret::Channel { .. } => format!("{}-channel", f.name),
        _ => format!("{}-stream", f.name),
    }
}

/// The WIT source of `plugin`: one package.
pub(crate) fn render(plugin: &Plugin) -> String {
    let layout = Layout::of(plugin);
    let mut out = String::new();
    let _ = writeln!(out, "package {};", layout.package);

    if let Some(types) = &layout.types {
        out.push('\n');
        docs(
            &mut out,
            "",
            "The types of the plugin's nodes (the module's `#[derive(warden_guest::Type)]` types).",
        );
        let _ = writeln!(out, "interface {} {{", wit_ident(types));
        for (i, def) in plugin.defs.iter().enumerate() {
            if i > 0 {
                out.push('\n');
            }
            render_def(&mut out, plugin, def);
        }
        out.push_str("}\n");
    }

    for iface in &plugin.interfaces {
        out.push('\n');
        render_interface(&mut out, plugin, &layout, iface);
    }

    out.push('\n');
    docs(&mut out, "", &plugin.docs);
    let _ = writeln!(out, "world {} {{", wit_ident(&layout.world));
    let at_world: Vec<&Func> = plugin.funcs.iter().collect();
    uses(&mut out, plugin, &layout, &at_world);
    for iface in &plugin.interfaces {
        let _ = writeln!(out, "    export {};", wit_ident(&iface.name));
    }
    for (i, f) in at_world.iter().enumerate() {
        if i > 0 || !plugin.interfaces.is_empty() {
            out.push('\n');
        }
        docs(&mut out, "    ", &f.docs);
        let _ = writeln!(
            out,
            "    export {}: func({}){};",
            wit_ident(&f.name),
            params(plugin, f),
            result(plugin, f)
        );
    }
    out.push_str("}\n");
    out
}

/// One exported interface: its functions, and the resources of its stream
/// and channel functions.
fn render_interface(out: &mut String, plugin: &Plugin, layout: &Layout, iface: &Interface) {
    docs(out, "", &iface.docs);
    let _ = writeln!(out, "interface {} {{", wit_ident(&iface.name));
    let funcs: Vec<&Func> = iface.funcs.iter().collect();
    uses(out, plugin, layout, &funcs);
    for (i, f) in funcs.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        render_resource(out, plugin, f);
        docs(out, "    ", &f.docs);
        let _ = writeln!(
            out,
            "    {}: func({}){};",
            wit_ident(&f.name),
            params(plugin, f),
            result(plugin, f)
        );
    }
    out.push_str("}\n");
}

/// ` -> T` for a function's result: its value, or its stream or channel
/// resource.
fn result(plugin: &Plugin, f: &Func) -> String {
    match &f.ret {
        Ret::Nothing => String::new(),
        Ret::Value(t) => format!(" -> {}", ty(plugin, t)),
        Ret::Stream { .. } | Ret::Channel { .. } => {
            format!(" -> {}", wit_ident(&resource_name(f)))
        }
    }
}

/// `use types.{a, b};` for the derived types `funcs` name.
fn uses(out: &mut String, plugin: &Plugin, layout: &Layout, funcs: &[&Func]) {
    let (Some(types), false) = (&layout.types, funcs.is_empty()) else {
        return;
    };
    let named: BTreeSet<usize> = funcs.iter().flat_map(|f| f.named()).collect();
    if named.is_empty() {
        return;
    }
    let names: Vec<String> = named
        .iter()
        .map(|&i| wit_ident(&plugin.defs[i].name))
        .collect();
    let _ = writeln!(
        out,
        "    use {}.{{{}}};\n",
        wit_ident(types),
        names.join(", ")
    );
}

fn params(plugin: &Plugin, f: &Func) -> String {
    f.params
        .iter()
        .map(|p| format!("{}: {}", wit_ident(&p.name), ty(plugin, &p.ty)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn render_resource(out: &mut String, plugin: &Plugin, f: &Func) {
    let name = wit_ident(&resource_name(f));
    match &f.ret {
        Ret::Stream { item, error } => {
            docs(
                out,
                "    ",
                &format!(
                    "The items of `{}`, pulled one at a time with `next`.",
                    f.name
                ),
            );
            let _ = writeln!(out, "    resource {name} {{");
            let item = ty(plugin, item);
            match error {
                None => {
                    docs(out, "        ", "The next item, or `none` at the end.");
                    let _ = writeln!(out, "        next: func() -> option<{item}>;");
                }
                Some(e) => {
                    docs(
                        out,
                        "        ",
                        "The next item, `none` at the end, or the error that ends the stream.",
                    );
                    let _ = writeln!(
                        out,
                        "        next: func() -> result<option<{item}>, {}>;",
                        ty(plugin, e)
                    );
                }
            }
            out.push_str("    }\n\n");
        }
        Ret::Channel { input, output } => {
            docs(out, "    ", &format!("One conversation with `{}`.", f.name));
            let _ = writeln!(out, "    resource {name} {{");
            let output = ty(plugin, output);
            docs(out, "        ", "Answers one message.");
            let _ = writeln!(
                out,
                "        send: func(message: {}) -> list<{output}>;",
                ty(plugin, input)
            );
            docs(
                out,
                "        ",
                "Called when the caller has no more messages: the last answers.",
            );
            let _ = writeln!(out, "        finish: func() -> list<{output}>;");
            out.push_str("    }\n\n");
        }
        Ret::Nothing | Ret::Value(_) => {}
    }
}

fn render_def(out: &mut String, plugin: &Plugin, def: &Def) {
    docs(out, "    ", &def.docs);
    let name = wit_ident(&def.name);
    match &def.kind {
        DefKind::Record(fields) => {
            let _ = writeln!(out, "    record {name} {{");
            for f in fields {
                docs(out, "        ", &f.docs);
                let _ = writeln!(
                    out,
                    "        {}: {},",
                    wit_ident(&f.name),
                    ty(plugin, &f.ty)
                );
            }
        }
        DefKind::Flags(fields) => {
            let _ = writeln!(out, "    flags {name} {{");
            for f in fields {
                docs(out, "        ", &f.docs);
                let _ = writeln!(out, "        {},", wit_ident(&f.name));
            }
        }
        DefKind::Enum(cases) => {
            let _ = writeln!(out, "    enum {name} {{");
            for c in cases {
                docs(out, "        ", &c.docs);
                let _ = writeln!(out, "        {},", wit_ident(&c.name));
            }
        }
        DefKind::Variant(cases) => {
            let _ = writeln!(out, "    variant {name} {{");
            for c in cases {
                docs(out, "        ", &c.docs);
                let payload = match &c.payload {
                    Payload::None => String::new(),
                    Payload::One(t) => format!("({})", ty(plugin, t)),
                    Payload::Many(ts) => format!("({})", ty(plugin, &Ty::Tuple(ts.clone()))),
                };
                let _ = writeln!(out, "        {}{payload},", wit_ident(&c.name));
            }
        }
    }
    out.push_str("    }\n");
}

/// The WIT spelling of `t`.
pub(crate) fn ty(plugin: &Plugin, t: &Ty) -> String {
    match t {
        Ty::Prim(p) => p.wit().to_owned(),
        Ty::List(t) => format!("list<{}>", ty(plugin, t)),
        Ty::Option(t) => format!("option<{}>", ty(plugin, t)),
        Ty::Result(None, None) => "result".to_owned(),
        Ty::Result(Some(ok), None) => format!("result<{}>", ty(plugin, ok)),
        Ty::Result(None, Some(err)) => format!("result<_, {}>", ty(plugin, err)),
        Ty::Result(Some(ok), Some(err)) => {
            format!("result<{}, {}>", ty(plugin, ok), ty(plugin, err))
        }
        Ty::Tuple(ts) => format!(
            "tuple<{}>",
            ts.iter()
                .map(|t| ty(plugin, t))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Ty::Named(i) => wit_ident(&plugin.defs[*i].name),
    }
}

/// `docs` as `///` lines indented by `indent`.
fn docs(out: &mut String, indent: &str, docs: &str) {
    if docs.is_empty() {
        return;
    }
    for line in docs.lines() {
        if line.is_empty() {
            let _ = writeln!(out, "{indent}///");
        } else {
            let _ = writeln!(out, "{indent}/// {line}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model;

    /// The WIT of `module`, checked to parse and to have its world.
    fn wit_of(module: syn::ItemMod) -> String {
        let plugin = model::read(&module).unwrap_or_else(|e| panic!("{e}"));
        let wit = render(&plugin);
        crate::section::print_inline(&wit, &Layout::of(&plugin).world_id())
            .unwrap_or_else(|e| panic!("{e}"));
        wit
    }

    /// The error `module` is refused with.
    fn error_of(module: syn::ItemMod) -> String {
        match model::read(&module) {
            Ok(_) => panic!("the module was accepted"),
            Err(e) => e
                .into_iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("\n"),
        }
    }

    #[test]
    fn functions_become_world_exports_with_their_docs() {
        let wit = wit_of(syn::parse_quote! {
            /// Arithmetic nodes.
            mod math {
                use std::time::Duration;

                /// Adds two integers.
                pub fn add(a: i64, b: i64) -> i64 { a.wrapping_add(b) }

                /// Divides `a` by `b`.
                ///
                /// Dividing by zero is an error.
                pub fn divide(a: f64, b: f64) -> Result<f64, String> { Ok(a / b) }

                pub fn slow_sum(n: u32, delay_ms: u32) -> u64 { 0 }

                pub fn nothing() {}

                pub fn unit() -> () {}

                fn helper() -> u32 { 1 }

                pub(crate) fn crate_only() {}
            }
        });
        assert_eq!(
            wit,
            "package warden-plugin:math;

/// Arithmetic nodes.
world math {
    /// Adds two integers.
    export add: func(a: s64, b: s64) -> s64;

    /// Divides `a` by `b`.
    ///
    /// Dividing by zero is an error.
    export divide: func(a: f64, b: f64) -> result<f64, string>;

    export slow-sum: func(n: u32, delay-ms: u32) -> u64;

    export nothing: func();

    export unit: func();
}
"
        );
    }

    #[test]
    fn containers_map_to_their_wit_types() {
        let wit = wit_of(syn::parse_quote! {
            mod shapes {
                type Id = u64;
                pub fn f(
                    a: Vec<u8>,
                    b: Option<Vec<String>>,
                    c: (i8, u16, char),
                    d: Result<(), String>,
                    e: Result<bool, ()>,
                    f: std::vec::Vec<Option<f32>>,
                    g: &str,
                    h: Id,
                    r#type: bool,
                ) -> Result<(), ()> { Ok(()) }
            }
        });
        assert!(
            wit.contains(
                "export f: func(a: list<u8>, b: option<list<string>>, c: tuple<s8, u16, char>, \
                 d: result<_, string>, e: result<bool>, f: list<option<f32>>, g: string, h: u64, \
                 %type: bool) -> result;"
            ),
            "{wit}"
        );
    }

    #[test]
    fn derived_types_go_into_the_types_interface_with_their_docs() {
        let wit = wit_of(syn::parse_quote! {
            mod shapes {
                /// A point.
                #[derive(warden_guest::Type, Debug)]
                pub struct Point {
                    /// Across.
                    pub x: f64,
                    pub y: f64,
                }
                /// A box.
                #[derive(Clone, Type)]
                pub struct Labelled { pub label: String, pub corner: Point, pub tags: Vec<String> }
                /// A color.
                #[derive(Type)]
                pub enum Color {
                    /// Warm.
                    Red,
                    DeepBlue,
                }
                #[derive(Type)]
                pub enum Shape {
                    /// Round.
                    Circle(f64),
                    Rect(Point, Point),
                    Empty,
                }
                /// Permissions.
                #[derive(Type)]
                #[warden(flags)]
                pub struct Perms {
                    /// Reading.
                    pub read: bool,
                    pub write: bool,
                }
                /// Moves a box.
                pub fn grow(item: Labelled, c: Color) -> Result<Shape, Perms> { todo!() }
            }
        });
        assert_eq!(
            wit,
            "package warden-plugin:shapes;

/// The types of the plugin's nodes (the module's `#[derive(warden_guest::Type)]` types).
interface types {
    /// A point.
    record point {
        /// Across.
        x: f64,
        y: f64,
    }

    /// A box.
    record labelled {
        label: string,
        corner: point,
        tags: list<string>,
    }

    /// A color.
    enum color {
        /// Warm.
        red,
        deep-blue,
    }

    variant shape {
        /// Round.
        circle(f64),
        rect(tuple<point, point>),
        empty,
    }

    /// Permissions.
    flags perms {
        /// Reading.
        read,
        write,
    }
}

world shapes {
    use types.{labelled, color, shape, perms};

    /// Moves a box.
    export grow: func(item: labelled, c: color) -> result<shape, perms>;
}
"
        );
    }

    #[test]
    fn streams_and_channels_go_into_an_interface_named_after_the_module() {
        let wit = wit_of(syn::parse_quote! {
            /// Counting.
            mod counter {
                #[derive(warden_guest::Type)]
                pub struct Tick { pub n: u64 }
                /// Counts.
                pub fn count(n: u64) -> impl Iterator<Item = Tick> + Send { todo!() }
                pub fn tries(n: u64) -> Box<dyn Iterator<Item = Result<u64, String>>> { todo!() }
                /// Echoes.
                pub fn echo(prefix: String) -> warden_guest::Channel<String, Vec<u8>> { todo!() }
                /// Doubles.
                pub fn double(n: u64) -> u64 { n * 2 }
            }
        });
        assert!(
            wit.contains(
                "interface counter {
    use types.{tick};

    /// The items of `count`, pulled one at a time with `next`.
    resource count-stream {
        /// The next item, or `none` at the end.
        next: func() -> option<tick>;
    }

    /// Counts.
    count: func(n: u64) -> count-stream;
"
            ),
            "{wit}"
        );
        assert!(
            wit.contains("next: func() -> result<option<u64>, string>;"),
            "{wit}"
        );
        assert!(
            wit.contains(
                "    resource echo-channel {
        /// Answers one message.
        send: func(message: string) -> list<list<u8>>;
        /// Called when the caller has no more messages: the last answers.
        finish: func() -> list<list<u8>>;
    }"
            ),
            "{wit}"
        );
        assert!(
            wit.contains(
                "/// Counting.
world counter-plugin {
    export counter;

    /// Doubles.
    export double: func(n: u64) -> u64;
}"
            ),
            "{wit}"
        );
    }

    #[test]
    fn parameter_docs_join_the_function_docs() {
        let wit = wit_of(syn::parse_quote! {
            mod greeter {
                /// Greets someone.
                pub fn greet(
                    /// Who to greet.
                    name: String,
                    /// How many times,
                    /// at most 3.
                    times: u8,
                ) -> String { todo!() }
            }
        });
        assert!(
            wit.contains(
                "    /// Greets someone.
    ///
    /// - `name`: Who to greet.
    /// - `times`: How many times,
    ///   at most 3.
    export greet: func(name: string, times: u8) -> string;"
            ),
            "{wit}"
        );
    }

    #[test]
    fn unsupported_types_are_refused_naming_the_type_and_what_to_use() {
        let e = error_of(syn::parse_quote! {
            mod m { pub fn f(m: HashMap<String, i32>) {} }
        });
        assert_eq!(
            e,
            "`HashMap<String, i32>` cannot cross the plugin boundary: WIT has no map type; use \
             `Vec<(String, i32)>`"
        );
        let e = error_of(syn::parse_quote! {
            mod m { pub fn f() -> u128 { 0 } }
        });
        assert!(
            e.starts_with(
                "`u128` cannot cross the plugin boundary: WIT integers have at most 64 bits"
            ),
            "{e}"
        );
        let e = error_of(syn::parse_quote! {
            mod m { pub fn f(n: usize) {} }
        });
        assert!(
            e.contains("`usize`") && e.contains("use `u32` or `u64`"),
            "{e}"
        );
        let e = error_of(syn::parse_quote! {
            mod m { pub fn f(b: &[u8]) {} }
        });
        assert!(
            e.contains("`&[u8]` cannot cross") && e.contains("use `Vec<u8>`"),
            "{e}"
        );
        let e = error_of(syn::parse_quote! {
            mod m { pub struct P { x: i32 } pub fn f(p: P) {} }
        });
        assert!(
            e.contains("`P` cannot cross the plugin boundary: it does not derive")
                && e.contains("add #[derive(warden_guest::Type)] to `P`"),
            "{e}"
        );
        let e = error_of(syn::parse_quote! {
            mod m { pub fn f(p: crate::Outside) {} }
        });
        assert!(e.contains("declared outside `mod m`"), "{e}");
        let e = error_of(syn::parse_quote! {
            mod m { pub fn f() -> impl Fn() { || () } }
        });
        assert!(
            e.contains("the only `impl Trait` a node returns is `impl Iterator"),
            "{e}"
        );
        let e = error_of(syn::parse_quote! {
            mod m { pub fn f(s: &str) -> impl Iterator<Item = u8> { s.bytes() } }
        });
        assert!(e.contains("takes `String`, not `&str`"), "{e}");
    }

    #[test]
    fn unsupported_functions_are_refused_saying_why() {
        let e = error_of(syn::parse_quote! {
            mod m { pub fn f<T>(t: T) {} }
        });
        assert!(e.starts_with("generic function `f` cannot cross"), "{e}");
        let e = error_of(syn::parse_quote! {
            mod m { pub async fn f() {} }
        });
        assert!(e.starts_with("`async fn f` cannot be a node"), "{e}");
        let e = error_of(syn::parse_quote! {
            mod m { pub fn step_2() {} }
        });
        assert!(e.contains("`step-2`"), "{e}");
        let e = error_of(syn::parse_quote! {
            mod m { fn private() {} }
        });
        assert!(e.contains("`mod m` exports nothing"), "{e}");
        let e = error_of(syn::parse_quote! {
            mod m {
                #[derive(Type)]
                pub struct Tree { pub children: Vec<Tree> }
                pub fn f(t: Tree) {}
            }
        });
        assert!(e.contains("WIT types cannot be recursive"), "{e}");
        let e = error_of(syn::parse_quote! {
            mod m {
                #[derive(Type)]
                #[warden(flags)]
                pub struct P { pub read: bool, pub level: u8 }
                pub fn f(p: P) {}
            }
        });
        assert!(e.contains("must be `bool`; `level` is `u8`"), "{e}");
        let e = error_of(syn::parse_quote! {
            mod m {
                #[derive(Type)]
                pub enum E { A { x: u8 } }
                pub fn f(e: E) {}
            }
        });
        assert!(e.contains("carries one value, not named fields"), "{e}");
        // Every error at once, not only the first.
        let e = error_of(syn::parse_quote! {
            mod m { pub fn f(a: usize) {} pub fn g(b: u128) {} }
        });
        assert!(e.contains("`usize`") && e.contains("`u128`"), "{e}");
    }

    #[test]
    fn pub_mods_become_interfaces_with_their_docs() {
        let wit = wit_of(syn::parse_quote! {
            /// Text utilities.
            mod text {
                /// Counts.
                #[derive(warden_guest::Type)]
                pub struct Stats { pub words: u32 }

                /// String functions (nodes `text/strings/...`).
                pub mod strings {
                    //! Written inside.
                    use super::*;

                    /// A piece of a string.
                    #[derive(warden_guest::Type)]
                    pub struct Span { pub start: u32, pub(super) end: u32 }

                    /// Upper-cases `s`.
                    pub fn upper(s: &str) -> String { s.to_uppercase() }

                    /// Where the words are.
                    pub fn spans(s: String) -> impl Iterator<Item = Span> { todo!() }

                    /// Counts `s`.
                    pub fn count(s: String) -> Stats { todo!() }

                    fn helper() {}

                    mod private_helpers {}
                }

                /// Only types: no interface.
                pub mod model {
                    #[derive(warden_guest::Type)]
                    pub enum Case { Upper, Lower }
                }

                mod helpers {
                    pub fn not_a_node() {}
                }

                /// The first span of `s`.
                pub fn first(s: String) -> Option<strings::Span> { todo!() }

                /// The case of `s`.
                pub fn case_of(s: String, stats: self::Stats) -> model::Case { todo!() }
            }
        });
        assert_eq!(
            wit,
            "package warden-plugin:text;

/// The types of the plugin's nodes (the module's `#[derive(warden_guest::Type)]` types).
interface types {
    /// Counts.
    record stats {
        words: u32,
    }

    /// A piece of a string.
    record span {
        start: u32,
        end: u32,
    }

    enum case {
        upper,
        lower,
    }
}

/// String functions (nodes `text/strings/...`).
/// Written inside.
interface strings {
    use types.{stats, span};

    /// Upper-cases `s`.
    upper: func(s: string) -> string;

    /// The items of `spans`, pulled one at a time with `next`.
    resource spans-stream {
        /// The next item, or `none` at the end.
        next: func() -> option<span>;
    }

    /// Where the words are.
    spans: func(s: string) -> spans-stream;

    /// Counts `s`.
    count: func(s: string) -> stats;
}

/// Text utilities.
world text {
    use types.{stats, span, case};

    export strings;

    /// The first span of `s`.
    export first: func(s: string) -> option<span>;

    /// The case of `s`.
    export case-of: func(s: string, stats: stats) -> case;
}
"
        );
    }

    #[test]
    fn a_pub_mod_beside_streams_shares_the_world() {
        // Stream nodes of the plugin module and of a `pub mod`, and a
        // `pub mod` named after the plugin module: the world moves aside.
        let wit = wit_of(syn::parse_quote! {
            mod counter {
                pub fn count(n: u64) -> impl Iterator<Item = u64> { 0..n }
                pub mod ticks {
                    pub fn count(n: u64) -> impl Iterator<Item = u64> { 0..n }
                    pub fn echo() -> warden_guest::Channel<String, String> { todo!() }
                }
            }
        });
        assert!(wit.contains("interface counter {"), "{wit}");
        assert!(wit.contains("interface ticks {"), "{wit}");
        assert!(
            wit.contains("world counter-plugin {\n    export counter;\n    export ticks;\n}"),
            "{wit}"
        );
        let wit = wit_of(syn::parse_quote! {
            mod text {
                pub fn stats(s: String) -> u32 { 0 }
                pub mod text {
                    pub fn upper(s: String) -> String { s }
                }
            }
        });
        assert!(wit.contains("world text-plugin {"), "{wit}");
    }

    #[test]
    fn pub_mods_that_cannot_be_interfaces_are_refused_saying_why() {
        let e = error_of(syn::parse_quote! {
            mod text {
                pub mod strings {
                    pub mod deeper { pub fn f() {} }
                    pub fn g() {}
                }
            }
        });
        assert!(
            e.starts_with("`pub mod deeper` is nested too deep")
                && e.contains("move `deeper` up beside `strings`"),
            "{e}"
        );
        let e = error_of(syn::parse_quote! {
            mod text { pub mod strings; pub fn f() {} }
        });
        assert!(e.contains("write `pub mod strings { .. }` inline"), "{e}");
        let e = error_of(syn::parse_quote! {
            mod text {
                pub mod strings {
                    #[derive(Type)]
                    struct Span { pub start: u32 }
                    #[derive(Type)]
                    pub struct Range { start: u32 }
                    pub fn f(s: Span, r: Range) {}
                }
            }
        });
        assert!(
            e.contains("`Span` is declared in `pub mod strings`")
                && e.contains("the field `Range.start` is declared in `pub mod strings`")
                && e.contains("make it `pub`"),
            "{e}"
        );
        let e = error_of(syn::parse_quote! {
            mod text { pub mod strings { fn private() {} } }
        });
        assert!(
            e.contains("`mod text` exports nothing") && e.contains("of its `pub mod`s"),
            "{e}"
        );
    }

    #[test]
    fn interface_names_that_clash_are_refused_saying_with_what() {
        let e = error_of(syn::parse_quote! {
            mod text { pub mod types { pub fn f() {} } }
        });
        assert_eq!(
            e,
            "`pub mod types` is the interface `types`, but the name `types` is kept for the \
             interface of the plugin's derived types (`#[derive(warden_guest::Type)]`); rename \
             the module"
        );
        let e = error_of(syn::parse_quote! {
            mod text {
                pub fn strings() {}
                pub mod strings { pub fn upper(s: String) -> String { s } }
            }
        });
        assert_eq!(
            e,
            "`pub mod strings` is the interface `strings`, and the world also exports \
             `fn strings` as `strings`: functions and interfaces share the world's exports; \
             rename one"
        );
        let e = error_of(syn::parse_quote! {
            mod counter {
                pub fn count(n: u64) -> impl Iterator<Item = u64> { 0..n }
                pub mod counter { pub fn f() {} }
            }
        });
        assert_eq!(
            e,
            "`pub mod counter` is the interface `counter`, but that is the interface of the \
             stream and channel nodes of `mod counter` (`count`); rename the module, or move \
             those functions into it"
        );
        let e = error_of(syn::parse_quote! {
            mod count {
                pub fn count() -> u32 { 0 }
                pub fn ticks(n: u64) -> impl Iterator<Item = u64> { 0..n }
            }
        });
        assert!(
            e.starts_with(
                "the stream and channel nodes of `mod count` (`ticks`) go into an interface \
                 named after the module, `count`, and the world also exports `fn count`"
            ),
            "{e}"
        );
        let e = error_of(syn::parse_quote! {
            mod text {
                pub mod a_b { pub fn f() {} }
                pub mod aB { pub fn g() {} }
            }
        });
        assert!(
            e.contains("modules `a_b` and `aB` have the same WIT name"),
            "{e}"
        );
        let e = error_of(syn::parse_quote! {
            mod text {
                #[derive(Type)]
                pub struct Span { pub start: u32 }
                pub mod strings {
                    #[derive(Type)]
                    pub struct Span { pub end: u32 }
                    pub fn f(s: Span) {}
                }
            }
        });
        assert!(
            e.contains("types `Span` and `Span` have the same WIT name `span`"),
            "{e}"
        );
        // Worlds keep functions and types apart, interfaces do not.
        let e = error_of(syn::parse_quote! {
            mod text {
                #[derive(Type)]
                pub struct Stats { pub words: u32 }
                pub fn stats(s: String) -> Stats { todo!() }
                pub mod strings {
                    use super::Stats;
                    pub fn stats(s: String) -> Stats { todo!() }
                    pub fn tokens(s: String) -> impl Iterator<Item = String> { todo!() }
                    pub fn tokens_stream() {}
                }
            }
        });
        assert_eq!(
            e,
            "`stats` in `pub mod strings` is the function `stats` of the interface `strings`, \
             which also uses the type `stats` (`Stats`): in a WIT interface functions and \
             types share names; rename one\n\
             `tokens_stream` in `pub mod strings` is the function `tokens-stream` of the \
             interface `strings`, the name of the resource of node `tokens`; rename it"
        );
    }
}
