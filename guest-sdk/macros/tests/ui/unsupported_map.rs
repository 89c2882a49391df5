#[warden_guest::plugin]
mod inventory {
    use std::collections::HashMap;

    /// Counts items by name.
    pub fn count(items: Vec<String>) -> HashMap<String, i32> {
        let mut counts = HashMap::new();
        for item in items {
            *counts.entry(item).or_insert(0) += 1;
        }
        counts
    }
}

fn main() {}
