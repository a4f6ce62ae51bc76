-- 0004_source_address: tapes.source_address is NULL until the robot first moves the tape (SMC-3 SOURCE STORAGE ELEMENT
-- ADDRESS: "the last storage element this unit of media was moved from", which may be the element it is in now).
-- Until now a new tape recorded its own element, so "created here" and "moved out through a drive and back here" looked
-- alike and both were reported as never moved. Rows whose source is their own element are taken as never moved, which
-- is what READ ELEMENT STATUS showed for them so far.
UPDATE tapes SET source_address = NULL WHERE source_address = element_address;
