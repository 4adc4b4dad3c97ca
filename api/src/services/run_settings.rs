//! A project's run settings (owner only): the setup and dev commands and the readiness path,
//! each the project's own over the repository's `kosuke.json`, and the files copied into each
//! new checkout (contents sealed at rest, never sent back). A change remakes the spare
//! checkout's setup in the background.

use crate::access::ProjectAccess;
use crate::auth::CurrentUser;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store;
use crate::workspaces::{REPOSITORY_FILE, RunValues, resolve};
use api_types::validate;
use api_types::{
    MAX_COMMAND_CHARS, MAX_PROJECT_FILE_BYTES, MAX_PROJECT_FILES, ProjectFile, ProjectFileId, PutProjectFileRequest,
    RunSetting, RunSettings, SettingSource, UpdateRunSettingsRequest,
};
use entity::project_file;

/// The longest readiness path.
pub const MAX_READINESS_PATH_CHARS: usize = 1024;
/// A readiness path: absolute, no spaces or control characters; empty leaves it unset.
pub const READINESS_PATH_PATTERN: &str = r"^(?:/[^\s\x00-\x1f\x7f-\x9f]*)?$";
/// The longest path of a copied file.
pub const MAX_FILE_PATH_CHARS: usize = 255;
/// A copied file's path: relative segments of letters, digits, `.`, `_` and `-`; never `.`,
/// `..` or `.git`.
pub const FILE_PATH_PATTERN: &str =
    r"^(?!(?:.*/)?\.{1,2}(?:/|$))(?!(?:.*/)?\.git(?:/|$))[A-Za-z0-9._-]+(?:/[A-Za-z0-9._-]+)*$";

pub async fn get(state: &AppState, user: &CurrentUser, project_id: i32) -> Result<RunSettings, ApiError> {
    let access = ProjectAccess::load_as_owner(&state.db, project_id, user).await?;
    let own = store::run_settings::find(&state.db, access.id()).await?;
    let files = store::run_settings::files(&state.db, access.id()).await?;
    let branch = access.project.default_branch.clone();
    let read = state
        .workspaces
        .with_mirror(access.id(), move |mirror| mirror.file_at(&branch, REPOSITORY_FILE, 64 * 1024))
        .await;
    let (repo, present, error) = match read {
        Ok(Some(bytes)) => match RunValues::parse(&bytes) {
            Ok(repo) => (repo, true, None),
            Err(why) => (RunValues::default(), true, Some(why)),
        },
        // No mirror yet (still cloning), or no such file.
        Ok(None) | Err(_) => (RunValues::default(), false, None),
    };
    let resolved = resolve(own.as_ref(), &repo);
    let setting = |own: Option<&String>, repo: &Option<String>, value: Option<String>| {
        let own = own.cloned();
        let source = match (&own, &value) {
            (_, None) => SettingSource::Unset,
            (Some(own), Some(value)) if own == value => SettingSource::Settings,
            _ => SettingSource::Repository,
        };
        RunSetting { value, source, settings: own, repository: repo.clone() }
    };
    Ok(RunSettings {
        setup: setting(own.as_ref().and_then(|o| o.setup_command.as_ref()), &repo.setup, resolved.setup),
        dev: setting(own.as_ref().and_then(|o| o.dev_command.as_ref()), &repo.dev, resolved.dev),
        readiness_path: setting(
            own.as_ref().and_then(|o| o.readiness_path.as_ref()),
            &repo.readiness_path,
            resolved.readiness_path,
        ),
        files: files.into_iter().map(file).collect(),
        repository_file: present,
        repository_file_error: error,
    })
}

pub async fn put(
    state: &AppState,
    user: &CurrentUser,
    project_id: i32,
    request: UpdateRunSettingsRequest,
) -> Result<RunSettings, ApiError> {
    let access = ProjectAccess::load_as_owner(&state.db, project_id, user).await?;
    let setup = command(request.setup, "setup")?;
    let dev = command(request.dev, "dev")?;
    let readiness_path = readiness_path(request.readiness_path)?;
    store::run_settings::set(&state.db, access.id(), setup, dev, readiness_path).await?;
    remake_spare(state, &access);
    get(state, user, project_id).await
}

pub async fn put_file(
    state: &AppState,
    user: &CurrentUser,
    project_id: i32,
    request: PutProjectFileRequest,
) -> Result<ProjectFile, ApiError> {
    let access = ProjectAccess::load_as_owner(&state.db, project_id, user).await?;
    let path = file_path(&request.path)?;
    validate::plain_text(&request.content, true).map_err(|why| ApiError::validation("content", why))?;
    if request.content.chars().count() > MAX_PROJECT_FILE_BYTES {
        return Err(ApiError::validation("content", format!("A file is at most {MAX_PROJECT_FILE_BYTES} characters.")));
    }
    let existing = store::run_settings::file_paths(&state.db, access.id()).await?;
    if existing.len() >= MAX_PROJECT_FILES && !existing.contains(&path) {
        return Err(ApiError::validation("path", format!("A project copies at most {MAX_PROJECT_FILES} files.")));
    }
    let size = request.content.len() as i64;
    let saved =
        store::run_settings::put_file(&state.db, access.id(), &path, state.secrets.seal(&request.content), size)
            .await?;
    remake_spare(state, &access);
    Ok(file(saved))
}

pub async fn delete_file(state: &AppState, user: &CurrentUser, project_id: i32, file_id: i32) -> Result<(), ApiError> {
    let access = ProjectAccess::load_as_owner(&state.db, project_id, user).await?;
    store::run_settings::delete_file(&state.db, access.id(), file_id).await?;
    remake_spare(state, &access);
    Ok(())
}

fn file(model: project_file::Model) -> ProjectFile {
    ProjectFile { id: ProjectFileId(model.id), path: model.path, size: model.size, updated_at: model.updated_at }
}

/// The spare checkout was set up under the old settings: set it up again, in the background.
fn remake_spare(state: &AppState, access: &ProjectAccess) {
    let (workspaces, project_id, branch) =
        (state.workspaces.clone(), access.id(), access.project.default_branch.clone());
    tokio::spawn(async move { workspaces.make_spare(project_id, branch).await });
}

/// A command as stored: `None` when empty.
fn command(raw: Option<String>, field: &str) -> Result<Option<String>, ApiError> {
    let Some(raw) = raw.filter(|raw| !raw.trim().is_empty()) else { return Ok(None) };
    validate::plain_text(&raw, true).map_err(|why| ApiError::validation(field, why))?;
    if raw.chars().count() > MAX_COMMAND_CHARS {
        return Err(ApiError::validation(field, format!("A command is at most {MAX_COMMAND_CHARS} characters.")));
    }
    Ok(Some(raw.trim().to_owned()))
}

fn readiness_path(raw: Option<String>) -> Result<Option<String>, ApiError> {
    let Some(raw) = raw.filter(|raw| !raw.is_empty()) else { return Ok(None) };
    let valid = raw.starts_with('/')
        && raw.chars().count() <= MAX_READINESS_PATH_CHARS
        && !raw.chars().any(|c| c.is_whitespace() || c.is_control());
    if !valid {
        return Err(ApiError::validation(
            "readiness_path",
            "The readiness path is a path starting with '/', without spaces (at most 1,024 characters).",
        ));
    }
    Ok(Some(raw))
}

/// A copied file's path, checked by [`FILE_PATH_PATTERN`]'s rules.
fn file_path(raw: &str) -> Result<String, ApiError> {
    let refuse = || {
        ApiError::validation(
            "path",
            "A file's path is relative to the checkout's root: letters, digits, '.', '_' and '-' between '/', \
             never '..' or .git (at most 255 characters).",
        )
    };
    if raw.is_empty() || raw.chars().count() > MAX_FILE_PATH_CHARS {
        return Err(refuse());
    }
    for segment in raw.split('/') {
        let allowed = segment.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if segment.is_empty() || !allowed || segment == "." || segment == ".." || segment == ".git" {
            return Err(refuse());
        }
    }
    Ok(raw.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_paths_stay_inside_the_checkout_and_out_of_git() {
        for good in [".env.local", "config/dev.env", "a/b-c_d.e"] {
            assert!(file_path(good).is_ok(), "{good}");
        }
        for bad in ["", "/etc/passwd", "../x", "a/../b", ".git/config", "a/.git", "a//b", "a b", "a/", "."] {
            assert!(file_path(bad).is_err(), "{bad}");
        }
    }
}
