-- Secure by default (spec §1.2): the global switch becomes "not set"
-- (NULL) unless an operator sets it, and a gateway reads "not set" as its
-- configuration's api_keys.required (default true). Until now a fresh
-- logging database said enforce = false, so `athena serve` answered tenant
-- requests without keys; a stored false is reset to "not set" because it
-- cannot be told apart from that old default (an operator who wants keys
-- off sets api_keys.required: false, or PUTs enforce_api_keys: false again).
ALTER TABLE api_key_config ALTER COLUMN enforce DROP NOT NULL, ALTER COLUMN enforce DROP DEFAULT;
UPDATE api_key_config SET enforce = NULL WHERE enforce IS FALSE;

---- create above / drop below ----

UPDATE api_key_config SET enforce = false WHERE enforce IS NULL;
ALTER TABLE api_key_config ALTER COLUMN enforce SET DEFAULT false, ALTER COLUMN enforce SET NOT NULL;
