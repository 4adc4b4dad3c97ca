//! The agent as settings make it, and what the model banner says of it.

use crate::auth::CurrentUser;
use crate::error::ApiError;
use crate::settings::AgentSettings;
use crate::state::AppState;
use agent::{Agent, AgentConfig, Limits, ProviderKind};
use api_types::{AgentInfo, ErrorCode};

/// The agent from settings, or the sentence saying what to set.
pub fn build_agent(
    settings: &AgentSettings,
    sandbox: Result<sandbox::Sandbox, sandbox::Unavailable>,
) -> Result<Agent, String> {
    let missing = "No model provider is configured. Set KOSUKE_AGENT_PROVIDER to anthropic or openai (with \
                   KOSUKE_AGENT_MODEL and KOSUKE_AGENT_API_KEY, and KOSUKE_AGENT_BASE_URL for another endpoint), \
                   or to command (with KOSUKE_AGENT_COMMAND)."
        .to_owned();
    let Some(provider) = settings.provider.as_deref().filter(|p| !p.trim().is_empty()) else { return Err(missing) };
    let kind = ProviderKind::parse(provider)
        .ok_or_else(|| format!("KOSUKE_AGENT_PROVIDER is {provider:?}; use anthropic, openai or command."))?;
    let base_url = settings.base_url.clone().unwrap_or_else(|| match kind {
        ProviderKind::Anthropic => "https://api.anthropic.com".to_owned(),
        _ => "https://api.openai.com/v1".to_owned(),
    });
    let mut limits = Limits::default();
    if let Some(stall) = settings.stall_timeout {
        limits.stall_timeout = stall;
    }
    if let Some(stall) = settings.tool_stall_timeout {
        limits.tool_stall_timeout = stall;
    }
    if let Some(max) = settings.max_duration {
        limits.max_duration = max;
    }
    if let Some(tokens) = settings.max_tokens {
        limits.max_tokens = tokens;
    }
    if let Some(retries) = settings.max_retries {
        limits.max_retries = retries;
    }
    if let Some(wait) = settings.retry_max_wait {
        limits.retry_max_wait = wait;
    }
    if let Some(timeout) = settings.command_timeout {
        limits.command_timeout = timeout;
    }
    let config = AgentConfig {
        kind,
        model: settings.model.clone().unwrap_or_default(),
        base_url,
        api_key: settings.api_key.clone(),
        command: settings.command.clone(),
        limits,
        sandbox,
    };
    Agent::new(config).map_err(|err| format!("The agent is not set up: {err}."))
}

/// What the model banner shows `user`: the operator's label (else the model, or "Command
/// agent"); a command agent's command only to admins (it is a path on the server).
pub fn agent_info(state: &AppState, user: &CurrentUser) -> AgentInfo {
    match &state.agent {
        Ok(agent) => {
            let config = agent.config();
            let is_command = config.kind == ProviderKind::Command;
            let label = state
                .settings
                .agent
                .label
                .clone()
                .filter(|l| !l.trim().is_empty())
                .unwrap_or_else(|| if is_command { "Command agent".to_owned() } else { config.model.clone() });
            let display_name = match &config.sandbox {
                Ok(sandbox) if is_command && !sandbox.is_enforced() => format!("{label} (unsandboxed)"),
                _ => label,
            };
            AgentInfo {
                provider: Some(config.kind.as_str().to_owned()),
                model: (config.kind != ProviderKind::Command).then(|| config.model.clone()),
                available: config.kind != ProviderKind::Command || config.sandbox.is_ok(),
                reason: match (&config.kind, &config.sandbox) {
                    (ProviderKind::Command, Err(unavailable)) => {
                        Some(format!("Agent commands cannot run: {unavailable}."))
                    }
                    _ => None,
                },
                display_name,
                command: config.command.clone().filter(|_| is_command && user.is_admin),
            }
        }
        Err(reason) => AgentInfo {
            provider: None,
            model: None,
            display_name: "No model configured".to_owned(),
            available: false,
            reason: Some(reason.clone()),
            command: None,
        },
    }
}

/// The agent this node runs turns with, or why it cannot.
pub(super) fn usable_agent(state: &AppState) -> Result<std::sync::Arc<Agent>, ApiError> {
    let agent = state
        .agent
        .clone()
        .map_err(|reason| ApiError::Unavailable { code: ErrorCode::AgentUnavailable, message: reason })?;
    if agent.config().kind == ProviderKind::Command
        && let Err(unavailable) = &agent.config().sandbox
    {
        return Err(ApiError::Unavailable {
            code: ErrorCode::SandboxUnavailable,
            message: format!("The agent runs commands and no sandbox can be enforced here: {unavailable}."),
        });
    }
    Ok(agent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_provider_means_a_sentence_naming_the_settings() {
        let reason = build_agent(&AgentSettings::default(), sandbox::Sandbox::probe(sandbox::Mode::Off, true))
            .err()
            .unwrap_or_default();
        assert!(reason.contains("KOSUKE_AGENT_PROVIDER") && reason.contains("KOSUKE_AGENT_COMMAND"), "{reason}");
    }
}
