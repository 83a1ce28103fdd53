-- Run once by the postgres image on an empty volume (docker-compose.yml):
-- the demo database the README's examples use (client "demo") and the
-- logging database (client "athena_logging", migrated by the gateway).
-- The demo schema and rows are devstack/seed.go's demoSchema and demoRows,
-- word for word (devstack/compose_test.go checks it), so `docker compose up`
-- serves the same data as `make run`.
CREATE DATABASE athena_demo;
CREATE DATABASE athena_logging;

\connect athena_demo
CREATE TABLE IF NOT EXISTS users (
	id         bigserial PRIMARY KEY,
	email      text UNIQUE NOT NULL,
	name       text,
	created_at timestamptz DEFAULT now()
);

CREATE TABLE IF NOT EXISTS posts (
	id         bigserial PRIMARY KEY,
	author_id  bigint REFERENCES users (id),
	title      text NOT NULL,
	body       text,
	status     text DEFAULT 'draft' CHECK (status IN ('draft', 'published', 'archived')),
	tags       text[],
	meta       jsonb,
	created_at timestamptz DEFAULT now()
);
CREATE INDEX IF NOT EXISTS posts_author_id_idx ON posts (author_id);

CREATE TABLE IF NOT EXISTS comments (
	id         bigserial PRIMARY KEY,
	post_id    bigint REFERENCES posts (id) ON DELETE CASCADE,
	body       text NOT NULL,
	created_at timestamptz DEFAULT now()
);
CREATE INDEX IF NOT EXISTS comments_post_id_idx ON comments (post_id);

CREATE TABLE IF NOT EXISTS orders (
	id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	user_id    bigint REFERENCES users (id),
	amount     numeric(12, 2) NOT NULL,
	status     text NOT NULL DEFAULT 'open',
	created_at timestamptz DEFAULT now()
);
CREATE INDEX IF NOT EXISTS orders_user_id_idx ON orders (user_id);

CREATE OR REPLACE FUNCTION posts_by_status(p_status text) RETURNS SETOF posts
LANGUAGE sql STABLE AS $$
	SELECT * FROM posts WHERE status = p_status ORDER BY id
$$;

INSERT INTO users (email, name, created_at) VALUES
	('ada@example.com',    'Ada Lovelace',    now() - interval '30 days'),
	('alan@example.com',   'Alan Turing',     now() - interval '21 days'),
	('grace@example.com',  'Grace Hopper',    now() - interval '14 days'),
	('edsger@example.com', 'Edsger Dijkstra', now() - interval '7 days'),
	('barbara@example.com', NULL,             now() - interval '1 day');

INSERT INTO posts (author_id, title, body, status, tags, meta, created_at)
SELECT u.id, v.title, v.body, v.status, v.tags, v.meta::jsonb, now() - v.age
FROM (VALUES
	('ada@example.com',    'Notes on the Analytical Engine', 'The engine weaves algebraic patterns.', 'published', ARRAY['history', 'computing'], '{"views": 1843, "featured": true}',  interval '29 days'),
	('ada@example.com',    'Bernoulli numbers, step by step', 'A table of operations.',               'draft',     ARRAY['math'],                 '{"views": 0}',                       interval '3 days'),
	('alan@example.com',   'Computable numbers',              'On an application to the Entscheidungsproblem.', 'published', ARRAY['math', 'logic'], '{"views": 921, "lang": "en"}', interval '20 days'),
	('grace@example.com',  'The first actual bug',            'A moth, found in relay 70.',           'published', ARRAY['history', 'debugging'], '{"views": 4410, "featured": true}', interval '13 days'),
	('grace@example.com',  'Compilers for everyone',          NULL,                                   'archived',  ARRAY['compilers'],            NULL,                                 interval '12 days'),
	('edsger@example.com', 'Go To considered harmful',        'A letter to the editor.',              'published', ARRAY['programming'],          '{"views": 7777, "lang": "en"}',      interval '6 days'),
	('edsger@example.com', 'On the cruelty of teaching',      NULL,                                   'draft',     NULL,                          '{}',                                 interval '2 days')
) AS v (email, title, body, status, tags, meta, age)
JOIN users u ON u.email = v.email;

INSERT INTO comments (post_id, body, created_at)
SELECT p.id, v.body, now() - v.age
FROM (VALUES
	('Notes on the Analytical Engine', 'Visionary.',                        interval '28 days'),
	('Notes on the Analytical Engine', 'Note G is the best part.',          interval '27 days'),
	('Computable numbers',             'The halting argument is so short.', interval '19 days'),
	('The first actual bug',           'Taped into the log book!',          interval '12 days'),
	('Go To considered harmful',       'Considered harmful considered harmful.', interval '5 days'),
	('Go To considered harmful',       'Structured programming wins.',      interval '4 days')
) AS v (title, body, age)
JOIN posts p ON p.title = v.title;

INSERT INTO orders (user_id, amount, status, created_at)
SELECT u.id, v.amount, v.status, now() - v.age
FROM (VALUES
	('ada@example.com',    19.99::numeric,  'paid',      interval '25 days'),
	('ada@example.com',    5.00,            'open',      interval '2 days'),
	('alan@example.com',   120.50,          'paid',      interval '18 days'),
	('grace@example.com',  42.00,           'refunded',  interval '10 days'),
	('edsger@example.com', 7.25,            'open',      interval '1 day'),
	('edsger@example.com', 1999.00,         'cancelled', interval '3 hours')
) AS v (email, amount, status, age)
JOIN users u ON u.email = v.email;
