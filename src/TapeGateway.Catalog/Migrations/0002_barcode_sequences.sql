-- 0002_barcode_sequences: sequential barcode allocation per prefix, and LTO media-ID suffixes for auto-created tapes.

-- Next number to try per barcode prefix, shared by prefix-based CreateTapes and the auto-create policy, so allocation
-- does not rescan barcodes_used each time. The allocator still skips numbers whose barcode was used by hand.
CREATE TABLE barcode_sequences (
    prefix     TEXT    NOT NULL PRIMARY KEY CHECK (length(prefix) BETWEEN 1 AND 4 AND prefix NOT GLOB '*[^A-Z]*'),
    next_value INTEGER NOT NULL CHECK (next_value >= 1)
) STRICT, WITHOUT ROWID;

-- Optional two-character LTO media ID ('L5', 'LV', …) appended to auto-created barcodes, so backup software that reads
-- the label's media type (Veeam, NetBackup) sees a standard 8-character LTO label instead of an unknown medium.
ALTER TABLE auto_create_policies ADD COLUMN media_suffix TEXT NULL
    CHECK (media_suffix IS NULL OR (length(media_suffix) = 2 AND media_suffix NOT GLOB '*[^A-Z0-9]*'));

-- Time-range queries over the history ("what moved last night").
CREATE INDEX ix_tape_events_time ON tape_events (time);
