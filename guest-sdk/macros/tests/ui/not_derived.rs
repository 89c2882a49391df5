#[warden_guest::plugin]
mod geometry {
    /// A point, without `#[derive(warden_guest::Type)]`.
    pub struct Point {
        pub x: f64,
        pub y: f64,
    }

    /// How far `p` is from the origin.
    pub fn norm(p: Point) -> f64 {
        (p.x * p.x + p.y * p.y).sqrt()
    }
}

fn main() {}
