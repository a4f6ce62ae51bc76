-- 0003_archive: what the archive mover (src/TapeGateway.Archive) needs to find its pending work from the catalog alone,
-- so a restart resumes every half-done archive, retrieval, pool move and deletion without scanning the bucket.

-- The storage class the tape's archive-tier objects are in; NULL while the tape has no archive copy (or after the
-- copy of a deleted tape was removed). It differs from the pool's class while an "assign to pool" move
-- (GLACIER → DEEP_ARCHIVE) is pending, and it stays set on a DELETED tape until its archive objects are gone.
ALTER TABLE tapes ADD COLUMN archive_class TEXT NULL
    CHECK (archive_class IS NULL OR archive_class IN ('GLACIER', 'DEEP_ARCHIVE'));

-- 1 while an ARCHIVED tape may still have a library-tier copy to delete: set when a RETRIEVED tape is ejected back
-- to the archive, or a retrieval is cancelled half-way; cleared by the archive mover once the copy is gone.
ALTER TABLE tapes ADD COLUMN purge_library_copy INTEGER NOT NULL DEFAULT 0 CHECK (purge_library_copy IN (0, 1));

-- A new event kind, 'pool-assigned' (AWS AssignTapePool). SQLite cannot change a CHECK in place, so the table is
-- rebuilt: renamed away (its triggers and indexes go with it), created anew, filled with the same rows and ids, and the
-- old one dropped. No table references tape_events, so no foreign key has to be deferred.
ALTER TABLE tape_events RENAME TO tape_events_0002;

CREATE TABLE tape_events (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    barcode      TEXT    NOT NULL REFERENCES barcodes_used (barcode),
    time         TEXT    NOT NULL,
    kind         TEXT    NOT NULL CHECK (kind IN ('created', 'state-transition', 'moved', 'loaded', 'unloaded',
                                                  'deleted', 'pool-assigned')),
    library_id   INTEGER NULL REFERENCES libraries (id),
    from_state   TEXT    NULL,
    to_state     TEXT    NULL,
    from_element INTEGER NULL,
    to_element   INTEGER NULL,
    actor        TEXT    NOT NULL CHECK (length(actor) BETWEEN 1 AND 256),
    detail       TEXT    NULL
) STRICT;

INSERT INTO tape_events (id, barcode, time, kind, library_id, from_state, to_state, from_element, to_element, actor, detail)
SELECT id, barcode, time, kind, library_id, from_state, to_state, from_element, to_element, actor, detail
FROM tape_events_0002 ORDER BY id;

DROP TABLE tape_events_0002;

CREATE INDEX ix_tape_events_barcode ON tape_events (barcode, id);
CREATE INDEX ix_tape_events_time ON tape_events (time);

CREATE TRIGGER tape_events_append_only_update BEFORE UPDATE ON tape_events
BEGIN
    SELECT RAISE(ABORT, 'tape_events is append-only');
END;

CREATE TRIGGER tape_events_append_only_delete BEFORE DELETE ON tape_events
BEGIN
    SELECT RAISE(ABORT, 'tape_events is append-only');
END;
