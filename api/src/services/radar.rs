//! The conflict radar: for the caller's active sessions of a project, whether each branch
//! merges cleanly into its base's tip and into every other one's, computed in the mirror
//! without touching a checkout (`checkout::Mirror::merge_conflicts`). Each answer is kept by
//! the pair of commits merged — which fix both trees and their merge base — so after one turn
//! only the pairs with that session's new head are merged again.

use crate::access::ProjectAccess;
use crate::auth::CurrentUser;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store;
use crate::workspaces::blocking;
use api_types::{BaseConflict, ChatSessionPk, ConflictMatrix, PairConflict};
use checkout::{Mirror, Oid};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// At most this many active sessions are compared (their pairs grow with its square).
pub const MAX_RADAR_SESSIONS: u64 = 100;
/// Merge answers kept; past this the cache starts over.
const MAX_KEPT: usize = 200_000;

/// Conflicting paths by the (ordered) pair of commits merged.
#[derive(Default)]
pub struct RadarCache {
    merges: Mutex<HashMap<(Oid, Oid), Arc<Vec<String>>>>,
}

impl RadarCache {
    fn get(&self, key: (Oid, Oid)) -> Option<Arc<Vec<String>>> {
        self.merges.lock().unwrap_or_else(|p| p.into_inner()).get(&key).cloned()
    }

    fn put(&self, key: (Oid, Oid), paths: Arc<Vec<String>>) {
        let mut merges = self.merges.lock().unwrap_or_else(|p| p.into_inner());
        if merges.len() >= MAX_KEPT {
            merges.clear();
        }
        merges.insert(key, paths);
    }

    /// Each pair's conflicting files: those known, and the others merged all at once
    /// (`merge_conflicts_of`) and kept.
    fn resolve(
        &self,
        mirror: &Mirror,
        pairs: &[(Oid, Oid)],
    ) -> Result<HashMap<(Oid, Oid), Arc<Vec<String>>>, checkout::CheckoutError> {
        let mut found = HashMap::new();
        let mut missing = Vec::new();
        for &(a, b) in pairs {
            let pair = key(a, b);
            match self.get(pair) {
                Some(paths) => {
                    found.insert(pair, paths);
                }
                None if !found.contains_key(&pair) => {
                    found.insert(pair, Arc::new(Vec::new()));
                    missing.push(pair);
                }
                None => {}
            }
        }
        for (pair, paths) in missing.iter().zip(mirror.merge_conflicts_of(&missing)?) {
            let paths = Arc::new(paths);
            self.put(*pair, paths.clone());
            found.insert(*pair, paths);
        }
        Ok(found)
    }
}

/// A pair's key: the two commits in order (merging is symmetric).
fn key(a: Oid, b: Oid) -> (Oid, Oid) {
    if a < b { (a, b) } else { (b, a) }
}

/// `GET /api/projects/{id}/conflicts`.
pub async fn conflicts(state: &AppState, user: &CurrentUser, project_id: i32) -> Result<ConflictMatrix, ApiError> {
    let access = ProjectAccess::load(&state.db, project_id, user).await?;
    matrix(state, &access.project, &user.id).await
}

/// Computes the user's radar in the background, so the next `GET /conflicts` finds its merges
/// made: after a turn's commit and after an update from the base.
pub fn warm(state: &actix_web::web::Data<AppState>, project: entity::project::Model, user_id: String) {
    let state = state.clone();
    tokio::spawn(async move {
        if let Err(err) = matrix(&state, &project, &user_id).await {
            tracing::debug!(project_id = project.id, error = %err.body().error, "the radar was not computed ahead");
        }
    });
}

async fn matrix(state: &AppState, project: &entity::project::Model, user_id: &str) -> Result<ConflictMatrix, ApiError> {
    let project_id = project.id;
    let sessions = store::sessions::active_for_user(&state.db, project_id, user_id, MAX_RADAR_SESSIONS).await?;
    let default_branch = project.default_branch.clone();
    let branches: Vec<(i32, String, String)> = sessions
        .into_iter()
        .map(|s| (s.id, s.github_branch_name, s.base_branch.unwrap_or_else(|| default_branch.clone())))
        .collect();
    let (mirror_path, cache) = (state.workspaces.project_dir(project_id).mirror(), state.radar.clone());
    blocking(move || {
        let mirror = Mirror::open(&mirror_path)?;
        let mut tips: HashMap<String, Option<Oid>> = HashMap::new();
        // Sessions whose branch is not made yet (a checkout still being made) are left out.
        let heads: Vec<(i32, Oid, Option<Oid>)> = branches
            .iter()
            .filter_map(|(pk, branch, base)| {
                let head = mirror.branch_head(branch).ok()?;
                let tip = *tips.entry(base.clone()).or_insert_with(|| mirror.resolve_branch(base).ok());
                Some((*pk, head, tip))
            })
            .collect();
        // Every merge this answer needs: each head with its base's tip, and each pair of heads.
        let mut pairs: Vec<(Oid, Oid)> = heads.iter().filter_map(|(_, head, tip)| Some((*head, (*tip)?))).collect();
        for (i, (_, a, _)) in heads.iter().enumerate() {
            pairs.extend(heads[i + 1..].iter().filter(|(_, b, _)| b != a).map(|(_, b, _)| (*a, *b)));
        }
        let merged = cache.resolve(&mirror, &pairs)?;
        let known = |a: Oid, b: Oid| merged.get(&key(a, b)).map(|p| p.to_vec()).unwrap_or_default();
        let mut matrix = ConflictMatrix::default();
        for (pk, head, tip) in &heads {
            let Some(tip) = tip else { continue };
            let paths = known(*head, *tip);
            if !paths.is_empty() {
                matrix.base.push(BaseConflict { chat_session_id: ChatSessionPk(*pk), paths });
            }
        }
        for (i, (a, head_a, _)) in heads.iter().enumerate() {
            for (b, head_b, _) in &heads[i + 1..] {
                if head_a == head_b {
                    continue;
                }
                let paths = known(*head_a, *head_b);
                if !paths.is_empty() {
                    let (a, b) = if a < b { (*a, *b) } else { (*b, *a) };
                    matrix.pairs.push(PairConflict { a: ChatSessionPk(a), b: ChatSessionPk(b), paths });
                }
            }
        }
        matrix.base.sort_by_key(|c| c.chat_session_id.0);
        matrix.pairs.sort_by_key(|p| (p.a.0, p.b.0));
        Ok(matrix)
    })
    .await
}
