-- The closed conversation a conversation follows (handoff/earlier.py: the customer wrote again after it, in the
-- same browser), so that its agent still sees the earlier chat once Redis has let it go. An id, not a reference:
-- the archive may hold the one without the other (archived in either order, one forgotten or swept).

ALTER TABLE conversations ADD COLUMN follows text;
