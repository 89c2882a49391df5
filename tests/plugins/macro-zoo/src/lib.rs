//! `macro-zoo`: a plugin written with `#[warden_guest::plugin]` and no WIT
//! file, with a node for every type the attribute supports. The tests
//! (`tests/all/macro_plugins.rs`) call each over a real host.

/// Every type `#[warden_guest::plugin]` supports, one node or more each.
#[warden_guest::plugin]
mod zoo {
    use warden_guest::{Channel, Type};

    /// A point in the plane.
    #[derive(Type, Debug, Clone, Copy, PartialEq)]
    pub struct Point {
        /// Distance to the right of the origin.
        pub x: f64,
        /// Distance above the origin.
        pub y: f64,
    }

    /// A labelled rectangle: a record holding records.
    #[derive(Type, Debug, Clone, PartialEq)]
    pub struct Labelled {
        /// What the rectangle is called.
        pub label: String,
        /// Its lower-left corner.
        pub corner: Point,
        /// Its size, when known.
        pub size: Option<Point>,
        /// Free-form tags.
        pub tags: Vec<String>,
    }

    /// A primary color.
    #[derive(Type, Debug, Clone, Copy, PartialEq)]
    pub enum Color {
        /// The color of fire.
        Red,
        /// The color of grass.
        Green,
        /// The color of the sky.
        Blue,
    }

    /// A shape: a variant whose cases carry nothing, one value or two.
    #[derive(Type, Debug, Clone, PartialEq)]
    pub enum Shape {
        /// A circle of this radius.
        Circle(f64),
        /// A rectangle between two corners.
        Rect(Point, Point),
        /// A single point.
        Dot(Point),
        /// Nothing at all.
        Empty,
    }

    /// What a file may do.
    #[derive(Type, Debug, Clone, Copy, PartialEq)]
    #[warden(flags)]
    pub struct Perms {
        /// May be read.
        pub read: bool,
        /// May be written.
        pub write: bool,
        /// May be run.
        pub exec: bool,
    }

    /// Why `checked-div` failed.
    #[derive(Type, Debug, Clone, PartialEq)]
    pub enum MathError {
        /// The divisor was zero.
        DivideByZero,
        /// The result does not fit; what overflowed.
        Overflow(String),
    }

    /// A type no node uses: it is in the WIT all the same.
    #[derive(Type)]
    #[allow(dead_code)]
    pub struct Unused {
        /// Nothing.
        pub nothing: u8,
    }

    /// An alias the attribute follows.
    type Id = u64;

    /// Every primitive, returned as a tuple in the same order.
    #[allow(clippy::too_many_arguments)]
    pub fn primitives(
        b: bool,
        i8v: i8,
        i16v: i16,
        i32v: i32,
        i64v: i64,
        u8v: u8,
        u16v: u16,
        u32v: u32,
        u64v: u64,
        f32v: f32,
        f64v: f64,
        c: char,
    ) -> (bool, i8, i16, i32, i64, u8, u16, u32, u64, f32, f64, char) {
        (
            b, i8v, i16v, i32v, i64v, u8v, u16v, u32v, u64v, f32v, f64v, c,
        )
    }

    /// Greets `name` (a `&str` parameter).
    pub fn greet(
        /// Who to greet.
        name: &str,
    ) -> String {
        format!("hello, {name}")
    }

    /// The bytes in reverse order.
    pub fn reverse_bytes(data: Vec<u8>) -> Vec<u8> {
        data.into_iter().rev().collect()
    }

    /// The sum of `values`, without overflow.
    pub fn sum_all(values: Vec<i32>) -> i64 {
        values.into_iter().map(i64::from).sum()
    }

    /// The first word of `s`, if it has one.
    pub fn first_word(s: String) -> Option<String> {
        s.split_whitespace().next().map(str::to_owned)
    }

    /// Parses `s` as an integer; the error is a message.
    pub fn parse_int(s: String) -> Result<i64, String> {
        s.trim()
            .parse()
            .map_err(|e| format!("`{s}` is not an integer: {e}"))
    }

    /// Divides `a` by `b`; the error is a variant.
    pub fn checked_div(a: i32, b: i32) -> Result<i32, MathError> {
        if b == 0 {
            return Err(MathError::DivideByZero);
        }
        a.checked_div(b)
            .ok_or_else(|| MathError::Overflow(format!("{a} / {b}")))
    }

    /// Swaps the two halves of a pair.
    pub fn swap(pair: (String, u32)) -> (u32, String) {
        (pair.1, pair.0)
    }

    /// Moves `item` right by `by` and tags it `grown`.
    pub fn grow(item: Labelled, by: f64) -> Labelled {
        let mut tags = item.tags;
        tags.push("grown".to_owned());
        Labelled {
            corner: Point {
                x: item.corner.x + by,
                ..item.corner
            },
            tags,
            ..item
        }
    }

    /// The colors from `a` to `b`, in the order red, green, blue.
    pub fn colors_between(a: Color, b: Color) -> Vec<Color> {
        let all = [Color::Red, Color::Green, Color::Blue];
        let at = |c: Color| all.iter().position(|x| *x == c).unwrap_or(0);
        all[at(a).min(at(b))..=at(a).max(at(b))].to_vec()
    }

    /// The area of `shape`.
    pub fn area(shape: Shape) -> f64 {
        match shape {
            Shape::Circle(r) => std::f64::consts::PI * r * r,
            Shape::Rect(a, b) => ((b.x - a.x) * (b.y - a.y)).abs(),
            Shape::Dot(_) | Shape::Empty => 0.0,
        }
    }

    /// One shape of each kind.
    pub fn shapes() -> Vec<Shape> {
        vec![
            Shape::Circle(1.5),
            Shape::Rect(Point { x: 0.0, y: 0.0 }, Point { x: 2.0, y: 3.0 }),
            Shape::Dot(Point { x: 1.0, y: -1.0 }),
            Shape::Empty,
        ]
    }

    /// Flips every permission.
    pub fn toggle(perms: Perms) -> Perms {
        Perms {
            read: !perms.read,
            write: !perms.write,
            exec: !perms.exec,
        }
    }

    /// Returns `v` as it came: derived types deep inside containers.
    pub fn nested(v: Vec<Option<(Point, Color)>>) -> Vec<Option<(Point, Color)>> {
        v
    }

    /// `id` plus one (a parameter typed with an alias).
    pub fn next_id(id: Id) -> Id {
        id.wrapping_add(1)
    }

    /// Does nothing and returns nothing.
    pub fn nothing() {}

    /// A private helper is not a node.
    fn helper() -> u32 {
        7
    }

    /// Calls a private helper.
    pub fn uses_helper() -> u32 {
        helper()
    }

    /// Streams 1, 2, … `n` (a stream node).
    pub fn count(n: u32) -> impl Iterator<Item = u32> {
        1..=n
    }

    /// Streams `n` points along the diagonal (a stream of records).
    pub fn diagonal(n: u32) -> impl Iterator<Item = Point> {
        (0..n).map(|i| Point {
            x: f64::from(i),
            y: f64::from(i),
        })
    }

    /// Streams 1, 2, … and fails when it reaches `fail_at`.
    pub fn fail_at(fail_at: u32) -> impl Iterator<Item = Result<u32, String>> {
        (1..).map(move |i| {
            if i == fail_at {
                Err(format!("failed at {i}"))
            } else {
                Ok(i)
            }
        })
    }

    /// Answers each message with `prefix`, the message and how many came
    /// so far (a channel node), and says goodbye at the end.
    pub fn echo(prefix: String) -> Channel<String, String> {
        let mut seen = 0u32;
        let mut total = 0u32;
        Channel::new(move |message: String| {
            seen += 1;
            vec![format!("{prefix}{message} #{seen}")]
        })
        .with_finish(move || {
            total += 1;
            vec![format!("bye after {total} finish")]
        })
    }

    /// Geometry on the types above (a `pub mod`: nodes `zoo/geometry/...`).
    pub mod geometry {
        use super::{Point, Shape};
        use warden_guest::Type;

        /// A line between two points: a type declared in a `pub mod`.
        #[derive(Type, Debug, Clone, Copy, PartialEq)]
        pub struct Segment {
            /// Where it starts.
            pub from: Point,
            /// Where it ends.
            pub to: Point,
        }

        /// The length of `segment`.
        pub fn length(segment: Segment) -> f64 {
            (segment.to.x - segment.from.x).hypot(segment.to.y - segment.from.y)
        }

        /// The corners of `shape`, one at a time (a stream node in a `pub mod`).
        pub fn corners(shape: Shape) -> impl Iterator<Item = Point> {
            match shape {
                Shape::Rect(a, b) => vec![a, Point { x: b.x, y: a.y }, b, Point { x: a.x, y: b.y }],
                Shape::Dot(p) => vec![p],
                Shape::Circle(_) | Shape::Empty => Vec::new(),
            }
            .into_iter()
        }
    }

    /// The segment from `a` to `b` (a type of `pub mod geometry`).
    pub fn segment(a: Point, b: Point) -> geometry::Segment {
        geometry::Segment { from: a, to: b }
    }

    /// Answers each point with its mirror images (a channel of records).
    pub fn mirror() -> Channel<Point, Point> {
        Channel::new(|p: Point| vec![Point { x: -p.x, y: p.y }, Point { x: p.x, y: -p.y }])
    }
}
