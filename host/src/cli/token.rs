//! `warden token NAME`: a new caller token and the config lines to add.

use super::Failure;

/// Arguments of `warden token`.
#[derive(Debug, clap::Args)]
pub(crate) struct TokenArgs {
    /// The caller's name (what manifests' `access.callers` match).
    name: String,
    /// Node patterns the caller may call.
    #[arg(long = "nodes", value_name = "PATTERN", default_value = "*")]
    nodes: Vec<String>,
}

pub(crate) fn run(args: TokenArgs) -> Result<(), Failure> {
    let token = crate::access::new_token().map_err(|e| Failure::new("internal", e))?;
    let hash = crate::access::hash_token(&token);
    let nodes: Vec<String> = args.nodes.iter().map(|n| format!("{n:?}")).collect();
    println!("{token}");
    eprintln!(
        "warden: give the token above to `{name}` (it is not stored anywhere) and add this to \
         the host config (`warden serve --config FILE`):\n\n[[access.callers]]\nname = {name:?}\n\
         token_sha256 = \"{hash}\"\nnodes = [{nodes}]\n",
        name = args.name,
        nodes = nodes.join(", ")
    );
    Ok(())
}
