//! A plugin importing an interface no host provides (`test:needs-db/query`):
//! it must fail to load, and `warden check` must list the import as missing.

warden_guest::define_plugin!({ world: "needs-db", path: "wit" });

struct NeedsDb;

impl Guest for NeedsDb {
    fn count_rows() -> String {
        warden_guest::log::info("counting rows");
        test::needs_db::query::run("select count(*) from rows")
    }
}

export!(NeedsDb);
