-- The 1:N search's bucket, as on the kiosk: an HMAC of the holder's birth date under the
-- index key, so a face is compared only with those born the same day (docs/CORE.md). NULL for
-- templates admitted before this migration: a gateway computes theirs from the sealed
-- personal data when it loads them.
ALTER TABLE face_templates ADD COLUMN birth_index BYTEA CHECK (birth_index IS NULL OR length(birth_index) = 32);
