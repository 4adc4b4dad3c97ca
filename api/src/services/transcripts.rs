//! Chat transcripts at rest: every message's content and blocks are sealed with the server's
//! key (`SecretBox::seal_message`) when written, and opened when read. Rows written before
//! sealing existed are sealed at start-up, in batches, in the background (reads take plain
//! rows as they are meanwhile). `kosuke secrets rotate` re-seals every secret under a new key.
//! Session titles and descriptions stay plain: they are what search runs over.

use crate::error::BoxError;
use crate::secrets::SecretBox;
use crate::store;
use entity::{github_credential, project_env_var, queued_prompt, run_journal, session_event};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};

const BATCH: u64 = 500;

/// Seals every message still stored in plain text; returns how many.
pub async fn seal_plaintext(db: &DatabaseConnection, secrets: &SecretBox) -> Result<u64, BoxError> {
    let mut sealed = 0;
    loop {
        let batch = store::messages::plaintext(db, BATCH).await?;
        if batch.is_empty() {
            return Ok(sealed);
        }
        let txn = crate::store::begin(db).await?;
        for message in &batch {
            let (content, blocks) = secrets.seal_message(&message.content, message.blocks.as_ref());
            store::messages::replace_content(&txn, message.id, content, blocks).await?;
        }
        store::commit(txn).await?;
        sealed += batch.len() as u64;
    }
}

/// Every sealed value re-sealed from `old` to `new` in one transaction: GitHub tokens,
/// environment variable values, every message (plain ones sealed on the way), and what runs
/// keep sealed (`reseal_run_state`).
pub async fn reseal_all(db: &DatabaseConnection, old: &SecretBox, new: &SecretBox) -> Result<u64, BoxError> {
    let txn = crate::store::begin(db).await?;
    let mut count = 0;
    for credential in github_credential::Entity::find().all(&txn).await? {
        let token = old.open(&credential.token_encrypted)?;
        let mut active: github_credential::ActiveModel = credential.into();
        active.token_encrypted = Set(new.seal(&token));
        active.update(&txn).await?;
        count += 1;
    }
    for variable in project_env_var::Entity::find().all(&txn).await? {
        let value = old.open(&variable.value_encrypted)?;
        let mut active: project_env_var::ActiveModel = variable.into();
        active.value_encrypted = Set(new.seal(&value));
        active.update(&txn).await?;
        count += 1;
    }
    let mut after = 0;
    loop {
        let batch = store::messages::all_after(&txn, after, BATCH).await?;
        let Some(last) = batch.last() else { break };
        after = last.id;
        for message in batch {
            let (content, blocks) = old.try_open_message(&message).map_err(|_| {
                format!("message {} cannot be opened with the current key; nothing was changed", message.id)
            })?;
            let (content, blocks) = new.seal_message(&content, blocks.as_ref());
            store::messages::replace_content(&txn, message.id, content, blocks).await?;
            count += 1;
        }
    }
    count += reseal_run_state(&txn, old, new).await?;
    store::commit(txn).await?;
    Ok(count)
}

/// What runs keep sealed besides messages: queued prompts (and their comments), live runs'
/// journals, stored run events, and the nodes' key check.
async fn reseal_run_state(txn: &crate::store::Txn, old: &SecretBox, new: &SecretBox) -> Result<u64, BoxError> {
    let reseal = |sealed: &str| old.open(sealed).map(|plain| new.seal(&plain));
    let mut count = 0;
    for queued in queued_prompt::Entity::find().all(txn).await? {
        let comments = queued.comments.as_deref().map(reseal).transpose()?;
        let mut active: queued_prompt::ActiveModel = queued.clone().into();
        active.prompt = Set(reseal(&queued.prompt)?);
        active.comments = Set(comments);
        active.update(txn).await?;
        count += 1;
    }
    for piece in run_journal::Entity::find().all(txn).await? {
        let mut active: run_journal::ActiveModel = piece.clone().into();
        active.events = Set(reseal(&piece.events)?);
        active.update(txn).await?;
        count += 1;
    }
    let mut after = 0;
    loop {
        let batch = session_event::Entity::find()
            .filter(session_event::Column::Id.gt(after))
            .order_by_asc(session_event::Column::Id)
            .limit(BATCH)
            .all(txn)
            .await?;
        let Some(last) = batch.last() else { break };
        after = last.id;
        for event in batch {
            let payload = reseal(&event.payload)?;
            let mut active: session_event::ActiveModel = event.into();
            active.payload = Set(payload);
            active.update(txn).await?;
            count += 1;
        }
    }
    if let Some(check) = store::accounts::setting(txn, crate::nodes::KEY_CHECK).await? {
        store::accounts::set_setting(txn, crate::nodes::KEY_CHECK, &reseal(&check)?).await?;
    }
    Ok(count)
}

/// `kosuke secrets rotate`: every sealed value (GitHub tokens, environment variables, chat
/// transcripts) re-sealed under a new key. With a key file, the new key is written beside it
/// first (`secret.key.new`, 0600), the database re-sealed in one transaction, then the file
/// renamed over the old one; with `KOSUKE_SECRET_KEY`, the new key is printed for the operator
/// to set. Stop the server first: it holds the old key.
pub async fn rotate(
    db: &sea_orm::DatabaseConnection,
    configured: Option<&str>,
    data_dir: &std::path::Path,
) -> Result<(), BoxError> {
    let old = SecretBox::load(configured, data_dir)?;
    let (new, encoded) = crate::secrets::new_key()?;
    let key_file = data_dir.join("secret.key");
    let staged = data_dir.join("secret.key.new");
    if configured.is_none() {
        let _ = std::fs::remove_file(&staged);
        crate::secrets::write_private(&staged, encoded.as_bytes())?;
    }
    let resealed = match reseal_all(db, &old, &new).await {
        Ok(count) => count,
        Err(err) => {
            let _ = std::fs::remove_file(&staged);
            return Err(err);
        }
    };
    if configured.is_none() {
        std::fs::rename(&staged, &key_file)?;
        println!("re-sealed {resealed} values; the new key is in {}", key_file.display());
    } else {
        println!("re-sealed {resealed} values; set KOSUKE_SECRET_KEY to the new key before starting kosuke:");
        println!("{encoded}");
    }
    Ok(())
}
