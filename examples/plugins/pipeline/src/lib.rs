//! The `pipeline` example plugin: nodes that call the `text` and `math`
//! nodes through `invoke`. Each callee runs in its own sandbox with its own
//! grants and limits, within this call's deadline.

warden_guest::define_plugin!({ world: "pipeline", path: "wit" });

use warden_guest::invoke::call_value;
use warden_guest::rmpv::Value;
use warden_guest::{Error, progress};

struct Pipeline;

fn text(node: &str, e: Error) -> String {
    format!("calling `{node}` failed: {e:?}")
}

impl Guest for Pipeline {
    fn headline(input: String) -> Result<Headline, String> {
        let upper = call_value("text/strings/upper", &[Value::from(input.as_str())])
            .map_err(|e| text("text/strings/upper", e))?;
        let stats = call_value("text/stats", &[Value::from(input.as_str())])
            .map_err(|e| text("text/stats", e))?;
        let words = stats
            .as_map()
            .and_then(|m| m.iter().find(|(k, _)| k.as_str() == Some("words")))
            .and_then(|(_, v)| v.as_u64())
            .ok_or("`text/stats` returned no word count")?;
        Ok(Headline {
            title: upper.as_str().unwrap_or_default().to_owned(),
            words: words as u32,
        })
    }

    fn total(numbers: Vec<i64>) -> Result<i64, String> {
        let mut sum = 0i64;
        for (i, n) in numbers.iter().enumerate() {
            let result = call_value("math/add", &[Value::from(sum), Value::from(*n)])
                .map_err(|e| text("math/add", e))?;
            sum = result.as_i64().ok_or("`math/add` returned no integer")?;
            progress::report((i + 1) as f32 / numbers.len() as f32, &format!("added {n}"));
        }
        Ok(sum)
    }
}

export!(Pipeline);
