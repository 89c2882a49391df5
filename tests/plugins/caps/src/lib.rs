//! Uses every capability; the tests grant some and check the rest are refused.

warden_guest::define_plugin!({ world: "caps", path: "wit" });

use warden_guest::{blobs, invoke, kv};

struct Caps;

fn text<E: std::fmt::Debug>(e: E) -> String {
    format!("{e:?}")
}

fn text_of(e: warden_guest::Error) -> String {
    text(e)
}

impl Guest for Caps {
    fn kv_get(key: String) -> Result<Option<Vec<u8>>, String> {
        kv::get(&key).map_err(text)
    }

    fn kv_set(key: String, value: Vec<u8>) -> Result<(), String> {
        kv::set(&key, &value).map_err(text)
    }

    fn kv_delete(key: String) -> Result<bool, String> {
        kv::delete(&key).map_err(text)
    }

    fn kv_list(prefix: String) -> Result<Vec<String>, String> {
        kv::list_keys(&prefix).map_err(text)
    }

    fn blob_put(data: Vec<u8>) -> Result<String, String> {
        blobs::put(&data).map_err(text)
    }

    fn blob_get(reference: String) -> Result<Vec<u8>, String> {
        blobs::get(&reference).map_err(text)
    }

    fn blob_size(reference: String) -> Result<Option<u64>, String> {
        blobs::size(&reference).map_err(text)
    }

    fn call(node: String, args: Vec<u8>) -> Result<Vec<u8>, String> {
        invoke::call(&node, &args).map_err(text)
    }

    fn cycle(self_name: String) -> Result<Vec<u8>, String> {
        // MessagePack: an array of one string, the plugin's own name.
        let mut args = vec![0x91, 0xa0 | self_name.len() as u8];
        args.extend_from_slice(self_name.as_bytes());
        invoke::call(&format!("{self_name}/cycle"), &args).map_err(text)
    }

    fn secret() -> String {
        "the secret".into()
    }

    fn read_file(path: String) -> Result<String, String> {
        std::fs::read_to_string(&path).map_err(|e| e.to_string())
    }

    fn write_file(path: String, text: String) -> Result<(), String> {
        std::fs::write(&path, text).map_err(|e| e.to_string())
    }

    fn env(name: String) -> Option<String> {
        std::env::var(&name).ok()
    }

    fn env_names() -> Vec<String> {
        std::env::vars().map(|(k, _)| k).collect()
    }

    fn record_job(job: String, state: String, result: Option<i64>) -> Result<(), String> {
        let text = format!("{state}:{}", result.map_or("none".into(), |r| r.to_string()));
        kv::set(&format!("job/{job}"), text.as_bytes()).map_err(text_of)
    }

    fn connect(addr: String) -> Result<(), String> {
        std::net::TcpStream::connect(&addr)
            .map(drop)
            .map_err(|e| e.to_string())
    }
}

export!(Caps);
