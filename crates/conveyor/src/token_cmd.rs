//! `conveyor token`: a JWT for the files API, signed with the environment's own secret, for
//! trying the API locally and for tests. Real deployments get their tokens from the identity
//! provider (Supabase) that shares the secret.

use anyhow::Context;
use conveyor_config::Span;

#[derive(Debug, clap::Args)]
pub struct TokenArgs {
    #[command(flatten)]
    pub config: crate::ConfigSource,
    /// The tenant the token is for.
    #[arg(long)]
    pub tenant: String,
    /// The user (`sub` claim).
    #[arg(long, default_value = "local-user")]
    pub subject: String,
    /// How long the token is valid (`30m`, `1h`, `7d`).
    #[arg(long, default_value = "1h", value_parser = Span::parse)]
    pub valid_for: Span,
}

pub fn run(args: TokenArgs) -> anyhow::Result<()> {
    let settings = args.config.load()?.selected;
    let secret = settings.files.jwt_secret.as_ref().with_context(|| {
        format!(
            "the {} environment has no files.jwt_secret: set CONVEYOR_JWT_SECRET (32 characters or more)",
            settings.environment
        )
    })?;
    let expires = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs()
        + args.valid_for.seconds();
    // The tenant goes where the verifier looks for it: the configured claim path.
    let tenant = settings.files.tenant_claim.iter().rev().fold(
        serde_json::json!(args.tenant),
        |inner, key| serde_json::json!({ key: inner }),
    );
    let mut claims = serde_json::json!({
        "sub": args.subject,
        "exp": expires,
        "role": "authenticated",
    });
    if let (Some(claims), Some(tenant)) = (claims.as_object_mut(), tenant.as_object()) {
        claims.extend(tenant.clone());
    }
    let token = conveyor_api::files::sign_token(secret.expose().as_bytes(), &claims)
        .map_err(|e| anyhow::anyhow!("cannot sign the token: {e}"))?;
    println!("{token}");
    Ok(())
}
