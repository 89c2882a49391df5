#[warden_guest::plugin]
mod lists {
    /// The first element.
    pub fn first<T: Clone>(items: Vec<T>) -> Option<T> {
        items.first().cloned()
    }
}

fn main() {}
