//! The `notes` example plugin: notes in the plugin's private key-value store,
//! attachments and archives as content-addressed blobs.
//!
//! Keys: `note/TITLE` holds the body, `attachment/TITLE` a blob reference.

warden_guest::define_plugin!({ world: "notes", path: "wit" });

use warden_guest::{Error, blobs, kv, log};

struct Notes;

fn text(e: Error) -> String {
    match e {
        Error::Denied(m) => format!("denied: {m}"),
        Error::NotFound(m) => format!("not found: {m}"),
        Error::QuotaExceeded(m) => format!("quota exceeded: {m}"),
        Error::Invalid(m) => format!("invalid: {m}"),
        Error::Failed(m) => format!("failed: {m}"),
    }
}

/// The host's longest key (`warden:node/kv`), in bytes.
const MAX_KEY: usize = 1024;
/// The longest key prefix used here.
const LONGEST_PREFIX: &str = "attachment/";
/// The longest title: every key made from it stays within the host's limit.
const MAX_TITLE: usize = MAX_KEY - LONGEST_PREFIX.len();

fn check_title(title: &str) -> Result<(), String> {
    if title.trim().is_empty() {
        return Err("a note needs a title".into());
    }
    if title.len() > MAX_TITLE {
        return Err(format!(
            "a title may have at most {MAX_TITLE} bytes; this one has {}",
            title.len()
        ));
    }
    Ok(())
}

/// The key of `title`'s attachment, if the title is short enough to have
/// one (notes saved before titles were checked may not be).
fn attachment_key(title: &str) -> Option<String> {
    let key = format!("{LONGEST_PREFIX}{title}");
    (key.len() <= MAX_KEY).then_some(key)
}

impl Guest for Notes {
    fn save(title: String, body: String) -> Result<(), String> {
        check_title(&title)?;
        kv::set(&format!("note/{title}"), body.as_bytes()).map_err(text)?;
        log::info(&format!("saved `{title}` ({} bytes)", body.len()));
        Ok(())
    }

    fn get(title: String) -> Result<Option<String>, String> {
        check_title(&title)?;
        let body = kv::get(&format!("note/{title}")).map_err(text)?;
        Ok(body.map(|b| String::from_utf8_lossy(&b).into_owned()))
    }

    fn index() -> Result<Vec<Summary>, String> {
        let keys = kv::list_keys("note/").map_err(text)?;
        keys.into_iter()
            .map(|key| {
                let title = key["note/".len()..].to_owned();
                let attachment = match attachment_key(&title) {
                    Some(key) => kv::get(&key).map_err(text)?,
                    None => None,
                };
                let attachment_size = match attachment {
                    Some(r) => blobs::size(&String::from_utf8_lossy(&r)).map_err(text)?,
                    None => None,
                };
                Ok(Summary {
                    title,
                    attachment_size,
                })
            })
            .collect()
    }

    fn delete(title: String) -> Result<bool, String> {
        if let Some(key) = attachment_key(&title) {
            kv::delete(&key).map_err(text)?;
        }
        kv::delete(&format!("note/{title}")).map_err(text)
    }

    fn attach(title: String, blob: String) -> Result<u64, String> {
        check_title(&title)?;
        if kv::get(&format!("note/{title}")).map_err(text)?.is_none() {
            return Err(format!("there is no note `{title}`; save it first"));
        }
        let size = blobs::size(&blob)
            .map_err(text)?
            .ok_or_else(|| format!("blob `{blob}` is not stored on this host; upload it first"))?;
        kv::set(&format!("attachment/{title}"), blob.as_bytes()).map_err(text)?;
        Ok(size)
    }

    fn archive() -> Result<String, String> {
        let mut out = String::new();
        for key in kv::list_keys("note/").map_err(text)? {
            let body = kv::get(&key).map_err(text)?.unwrap_or_default();
            out.push_str(&format!("# {}\n\n{}\n\n", &key["note/".len()..], String::from_utf8_lossy(&body)));
        }
        blobs::put(out.as_bytes()).map_err(text)
    }
}

export!(Notes);
