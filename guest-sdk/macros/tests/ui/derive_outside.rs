/// Derived outside a plugin module: the attribute never sees it.
#[derive(warden_guest::Type)]
pub struct Loose {
    pub x: u32,
}

fn main() {}
