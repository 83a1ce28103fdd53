-- Right definitions (spec §1.2): /admin/api-key-rights is the catalogue of
-- rights an operator has described ({name, description}), as the SDK's CLI
-- ("rights create", "rights list") and the original server use it, and
-- spec §7 names its table api_key_rights. Until now api_key_rights held
-- which key has which right; those rows move to api_key_grants (the name
-- says what they are), unchanged, and api_key_rights becomes the
-- catalogue. A definition does not grant anything and granting does not
-- need one: the catalogue documents rights, the grants decide access.
ALTER TABLE api_key_rights RENAME TO api_key_grants;
ALTER INDEX api_key_rights_pkey RENAME TO api_key_grants_pkey;
ALTER TABLE api_key_grants RENAME CONSTRAINT api_key_rights_api_key_id_fkey TO api_key_grants_api_key_id_fkey;

CREATE TABLE api_key_rights (
    id          bigserial PRIMARY KEY,
    name        text        NOT NULL UNIQUE,
    description text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

---- create above / drop below ----

DROP TABLE api_key_rights;
ALTER TABLE api_key_grants RENAME CONSTRAINT api_key_grants_api_key_id_fkey TO api_key_rights_api_key_id_fkey;
ALTER INDEX api_key_grants_pkey RENAME TO api_key_rights_pkey;
ALTER TABLE api_key_grants RENAME TO api_key_rights;
