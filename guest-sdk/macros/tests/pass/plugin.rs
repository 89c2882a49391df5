//! A plugin compiles for the host target too, and its functions stay plain
//! Rust functions the crate's own code and tests can call.

/// Shapes.
#[warden_guest::plugin]
mod shapes {
    use warden_guest::{Channel, Type};

    /// A point.
    #[derive(Type, Debug, Clone, Copy, PartialEq)]
    pub struct Point {
        /// Across.
        pub x: f64,
        /// Up.
        pub y: f64,
    }

    /// A shape.
    #[derive(Type, Debug, PartialEq)]
    pub enum Shape {
        /// Round.
        Circle(f64),
        /// Between two corners.
        Rect(Point, Point),
        /// Nothing.
        Empty,
    }

    /// Permissions.
    #[derive(Type, Debug, PartialEq)]
    #[warden(flags)]
    pub struct Perms {
        /// May read.
        pub read: bool,
        /// May write.
        pub write: bool,
    }

    /// The area of `shape`.
    pub fn area(shape: Shape) -> f64 {
        match shape {
            Shape::Circle(r) => 3.0 * r * r,
            Shape::Rect(a, b) => (b.x - a.x) * (b.y - a.y),
            Shape::Empty => 0.0,
        }
    }

    /// Whether writing is allowed.
    pub fn writable(p: Perms) -> Result<bool, String> {
        Ok(p.write)
    }

    /// Greets.
    pub fn greet(name: &str) -> String {
        format!("hi {name}")
    }

    /// Corners along the diagonal.
    pub fn corners(n: u32) -> impl Iterator<Item = Point> {
        (0..n).map(|i| Point {
            x: f64::from(i),
            y: f64::from(i),
        })
    }

    /// Echoes.
    pub fn echo() -> Channel<String, String> {
        Channel::new(|m: String| vec![m])
    }
}

fn main() {
    let rect = shapes::Shape::Rect(
        shapes::Point { x: 0.0, y: 0.0 },
        shapes::Point { x: 2.0, y: 3.0 },
    );
    assert_eq!(shapes::area(rect), 6.0);
    assert_eq!(
        shapes::writable(shapes::Perms {
            read: true,
            write: false
        }),
        Ok(false)
    );
    assert_eq!(shapes::greet("you"), "hi you");
    assert_eq!(shapes::corners(2).count(), 2);
    assert_eq!(shapes::echo().send("m".into()), ["m"]);
}
