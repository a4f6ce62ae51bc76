-- user_version 4
-- index ix_elements_free
CREATE INDEX ix_elements_free ON elements (library_id, element_type, address) WHERE barcode IS NULL;
-- index ix_tape_events_barcode
CREATE INDEX ix_tape_events_barcode ON tape_events (barcode, id);
-- index ix_tape_events_time
CREATE INDEX ix_tape_events_time ON tape_events (time);
-- index ix_tapes_library
CREATE INDEX ix_tapes_library ON tapes (library_id, state);
-- index ix_tapes_pool
CREATE INDEX ix_tapes_pool ON tapes (pool_id);
-- index ix_tapes_state
CREATE INDEX ix_tapes_state ON tapes (state);
-- index ux_elements_barcode
CREATE UNIQUE INDEX ux_elements_barcode ON elements (barcode) WHERE barcode IS NOT NULL;
-- table auto_create_policies
CREATE TABLE auto_create_policies ( library_id INTEGER NOT NULL REFERENCES libraries (id) ON DELETE CASCADE, barcode_prefix TEXT NOT NULL CHECK (length(barcode_prefix) BETWEEN 1 AND 4 AND barcode_prefix NOT GLOB '*[^A-Z]*'), minimum_available INTEGER NOT NULL CHECK (minimum_available BETWEEN 1 AND 10), capacity_bytes INTEGER NOT NULL CHECK (capacity_bytes > 0), pool_id TEXT NOT NULL REFERENCES pools (id), worm INTEGER NOT NULL CHECK (worm IN (0, 1)), created TEXT NOT NULL, media_suffix TEXT NULL CHECK (media_suffix IS NULL OR (length(media_suffix) = 2 AND media_suffix NOT GLOB '*[^A-Z0-9]*')), PRIMARY KEY (library_id, barcode_prefix) ) STRICT, WITHOUT ROWID;
-- table barcode_sequences
CREATE TABLE barcode_sequences ( prefix TEXT NOT NULL PRIMARY KEY CHECK (length(prefix) BETWEEN 1 AND 4 AND prefix NOT GLOB '*[^A-Z]*'), next_value INTEGER NOT NULL CHECK (next_value >= 1) ) STRICT, WITHOUT ROWID;
-- table barcodes_used
CREATE TABLE barcodes_used ( barcode TEXT NOT NULL PRIMARY KEY CHECK (length(barcode) BETWEEN 5 AND 16 AND barcode NOT GLOB '*[^A-Z0-9]*'), first_used TEXT NOT NULL ) STRICT, WITHOUT ROWID;
-- table drives
CREATE TABLE drives ( library_id INTEGER NOT NULL REFERENCES libraries (id) ON DELETE CASCADE, drive_index INTEGER NOT NULL CHECK (drive_index >= 0), element_address INTEGER NOT NULL, serial_number TEXT NOT NULL UNIQUE CHECK (length(serial_number) BETWEEN 1 AND 32), personality TEXT NOT NULL CHECK (length(personality) BETWEEN 1 AND 64), PRIMARY KEY (library_id, drive_index), UNIQUE (library_id, element_address), FOREIGN KEY (library_id, element_address) REFERENCES elements (library_id, address) ) STRICT, WITHOUT ROWID;
-- table elements
CREATE TABLE elements ( library_id INTEGER NOT NULL REFERENCES libraries (id) ON DELETE CASCADE, address INTEGER NOT NULL CHECK (address BETWEEN 0 AND 65535), element_type TEXT NOT NULL CHECK (element_type IN ('transport', 'drive', 'storage', 'import-export')), barcode TEXT NULL REFERENCES tapes (barcode), PRIMARY KEY (library_id, address), CHECK (element_type <> 'transport' OR barcode IS NULL) ) STRICT, WITHOUT ROWID;
-- table libraries
CREATE TABLE libraries ( id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 100), changer_personality TEXT NOT NULL CHECK (length(changer_personality) BETWEEN 1 AND 64), drive_personality TEXT NOT NULL CHECK (length(drive_personality) BETWEEN 1 AND 64), drive_count INTEGER NOT NULL CHECK (drive_count BETWEEN 1 AND 256), storage_slot_count INTEGER NOT NULL CHECK (storage_slot_count BETWEEN 1 AND 60000), ie_slot_count INTEGER NOT NULL CHECK (ie_slot_count BETWEEN 0 AND 4096), first_transport_address INTEGER NOT NULL CHECK (first_transport_address BETWEEN 0 AND 65535), first_drive_address INTEGER NOT NULL CHECK (first_drive_address BETWEEN 0 AND 65535), first_storage_address INTEGER NOT NULL CHECK (first_storage_address BETWEEN 0 AND 65535), first_ie_address INTEGER NOT NULL CHECK (first_ie_address BETWEEN 0 AND 65535), created TEXT NOT NULL, updated TEXT NOT NULL ) STRICT;
-- table pools
CREATE TABLE pools ( id TEXT NOT NULL PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 64), name TEXT NOT NULL UNIQUE CHECK (length(name) BETWEEN 2 AND 100), storage_class TEXT NOT NULL CHECK (storage_class IN ('GLACIER', 'DEEP_ARCHIVE')), retention_lock TEXT NOT NULL CHECK (retention_lock IN ('NONE', 'GOVERNANCE', 'COMPLIANCE')), retention_days INTEGER NOT NULL CHECK (retention_days BETWEEN 0 AND 36500), is_standard INTEGER NOT NULL CHECK (is_standard IN (0, 1)), created TEXT NOT NULL, CHECK ((retention_lock = 'NONE') = (retention_days = 0)) ) STRICT, WITHOUT ROWID;
-- table tape_events
CREATE TABLE tape_events ( id INTEGER PRIMARY KEY AUTOINCREMENT, barcode TEXT NOT NULL REFERENCES barcodes_used (barcode), time TEXT NOT NULL, kind TEXT NOT NULL CHECK (kind IN ('created', 'state-transition', 'moved', 'loaded', 'unloaded', 'deleted', 'pool-assigned')), library_id INTEGER NULL REFERENCES libraries (id), from_state TEXT NULL, to_state TEXT NULL, from_element INTEGER NULL, to_element INTEGER NULL, actor TEXT NOT NULL CHECK (length(actor) BETWEEN 1 AND 256), detail TEXT NULL ) STRICT;
-- table tapes
CREATE TABLE tapes ( barcode TEXT NOT NULL PRIMARY KEY REFERENCES barcodes_used (barcode), library_id INTEGER NULL REFERENCES libraries (id), capacity_bytes INTEGER NOT NULL CHECK (capacity_bytes > 0), used_bytes INTEGER NOT NULL DEFAULT 0 CHECK (used_bytes BETWEEN 0 AND capacity_bytes), state TEXT NOT NULL CHECK (state IN ('CREATING', 'AVAILABLE', 'IN TRANSIT TO VTS', 'ARCHIVING', 'ARCHIVED', 'RETRIEVING', 'RETRIEVED', 'DELETING', 'DELETED', 'RECOVERED', 'IRRECOVERABLE')), pool_id TEXT NOT NULL REFERENCES pools (id), worm INTEGER NOT NULL CHECK (worm IN (0, 1)), read_only INTEGER NOT NULL DEFAULT 0 CHECK (read_only IN (0, 1)), location_kind TEXT NOT NULL CHECK (location_kind IN ('element', 'archive', 'none')), element_address INTEGER NULL, source_address INTEGER NULL, retention_start TEXT NULL, pool_entry TEXT NULL, archive_progress REAL NULL CHECK (archive_progress BETWEEN 0 AND 100), created TEXT NOT NULL, updated TEXT NOT NULL, archive_class TEXT NULL CHECK (archive_class IS NULL OR archive_class IN ('GLACIER', 'DEEP_ARCHIVE')), purge_library_copy INTEGER NOT NULL DEFAULT 0 CHECK (purge_library_copy IN (0, 1)), CHECK ((location_kind = 'element') = (element_address IS NOT NULL)), CHECK (location_kind <> 'element' OR library_id IS NOT NULL), FOREIGN KEY (library_id, element_address) REFERENCES elements (library_id, address) ) STRICT, WITHOUT ROWID;
-- trigger barcodes_used_never_deleted
CREATE TRIGGER barcodes_used_never_deleted BEFORE DELETE ON barcodes_used BEGIN SELECT RAISE(ABORT, 'barcodes_used is append-only: a barcode can never be reused'); END;
-- trigger barcodes_used_never_updated
CREATE TRIGGER barcodes_used_never_updated BEFORE UPDATE ON barcodes_used BEGIN SELECT RAISE(ABORT, 'barcodes_used is append-only: a barcode can never be reused'); END;
-- trigger pools_immutable
CREATE TRIGGER pools_immutable BEFORE UPDATE ON pools BEGIN SELECT RAISE(ABORT, 'a pool cannot be changed after creation'); END;
-- trigger pools_standard_not_deleted
CREATE TRIGGER pools_standard_not_deleted BEFORE DELETE ON pools WHEN old.is_standard = 1 BEGIN SELECT RAISE(ABORT, 'the standard pools cannot be deleted'); END;
-- trigger tape_events_append_only_delete
CREATE TRIGGER tape_events_append_only_delete BEFORE DELETE ON tape_events BEGIN SELECT RAISE(ABORT, 'tape_events is append-only'); END;
-- trigger tape_events_append_only_update
CREATE TRIGGER tape_events_append_only_update BEFORE UPDATE ON tape_events BEGIN SELECT RAISE(ABORT, 'tape_events is append-only'); END;
