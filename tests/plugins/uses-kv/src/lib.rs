//! A plugin that needs the `kv` grant (it imports `warden:node/kv`).

warden_guest::define_plugin!({ world: "uses-kv", path: "wit" });

struct UsesKv;

impl Guest for UsesKv {
    fn bump() -> u64 {
        let now = warden_guest::kv::get("count")
            .ok()
            .flatten()
            .and_then(|v| v.try_into().ok())
            .map(u64::from_le_bytes)
            .unwrap_or(0)
            + 1;
        let _ = warden_guest::kv::set("count", &now.to_le_bytes());
        now
    }
}

export!(UsesKv);
