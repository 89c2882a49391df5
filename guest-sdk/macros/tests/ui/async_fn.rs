#[warden_guest::plugin]
mod fetcher {
    /// Fetches `url`.
    pub async fn fetch(url: String) -> String {
        url
    }
}

fn main() {}
