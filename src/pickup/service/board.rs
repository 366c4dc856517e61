//! Each pickup point's message board (留言板): short notes, shown with
//! their author's name masked; a removed note is kept for the record.

use entity::{PickupNoteId, UserId, pickup_note, pickup_point, user};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};

use crate::kernel::clock;
use crate::kernel::db;
use crate::kernel::error::{ApiError, ApiResult};
use crate::kernel::http::{Page, PageRequest};
use crate::pickup::views::Note;

/// One page of the point's notes, removed ones left out.
pub async fn notes<C: ConnectionTrait>(
    db: &C,
    point: &pickup_point::Model,
    page: PageRequest,
) -> ApiResult<Page<Note>> {
    let select = pickup_note::Entity::find()
        .filter(pickup_note::Column::PickupPointId.eq(point.id))
        .filter(pickup_note::Column::RemovedAt.is_null());
    let page = page
        .fetch(select, pickup_note::Column::Id, |m| m.id.as_uuid(), db)
        .await?;
    let names: std::collections::HashMap<UserId, String> = user::Entity::find()
        .filter(user::Column::Id.is_in(page.items.iter().map(|n| n.author_id)))
        .all(db)
        .await?
        .into_iter()
        .map(|u| (u.id, u.display_name))
        .collect();
    Ok(page.map(|n| Note {
        id: n.id,
        author_id: n.author_id,
        author: crate::pii::masked_name(names.get(&n.author_id).map_or("", String::as_str)),
        body: n.body,
        created_at: n.created_at,
    }))
}

/// Leaves `author`'s note (already checked) on the point's board.
pub async fn post_note<C: ConnectionTrait>(
    db: &C,
    point: &pickup_point::Model,
    author: &user::Model,
    text: String,
) -> ApiResult<Note> {
    let now = clock::now();
    let id = PickupNoteId::new();
    pickup_note::Entity::insert(pickup_note::ActiveModel {
        id: Set(id),
        pickup_point_id: Set(point.id),
        author_id: Set(author.id),
        body: Set(text.clone()),
        created_at: Set(now),
        removed_at: Set(None),
        removed_by: Set(None),
    })
    .exec_without_returning(db)
    .await?;
    Ok(Note {
        id,
        author_id: author.id,
        author: crate::pii::masked_name(&author.display_name),
        body: text,
        created_at: now,
    })
}

/// Takes a note off the point's board on behalf of `by`; a note already
/// removed, or not on this board, is not found.
pub async fn remove_note<C: ConnectionTrait>(
    db: &C,
    point: &pickup_point::Model,
    note: PickupNoteId,
    by: UserId,
) -> ApiResult<()> {
    db::guarded(
        db,
        pickup_note::Entity::update_many()
            .set(pickup_note::ActiveModel {
                removed_at: Set(Some(clock::now())),
                removed_by: Set(Some(by)),
                ..Default::default()
            })
            .filter(pickup_note::Column::Id.eq(note))
            .filter(pickup_note::Column::PickupPointId.eq(point.id))
            .filter(pickup_note::Column::RemovedAt.is_null()),
        ApiError::not_found(),
    )
    .await
}
