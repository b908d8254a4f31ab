import type { Queryable } from './queryable.ts';

const CREATE_TABLE = `
CREATE TABLE IF NOT EXISTS users (
  id         text PRIMARY KEY,
  name       text NOT NULL,
  email      text NOT NULL,
  age        integer NOT NULL,
  version    bigint NOT NULL DEFAULT 1,
  deleted    boolean NOT NULL DEFAULT false,
  updated_at timestamptz NOT NULL DEFAULT now()
)`;

// One statement, so concurrent instances starting together either all see rows or insert the
// same ids; ON CONFLICT makes the loser a no-op instead of an error.
const SEED = `
INSERT INTO users (id, name, email, age)
SELECT g::text, 'User ' || g, 'user' || g || '@example.com', 18 + g % 60
FROM generate_series(1, $1::int) AS g
WHERE NOT EXISTS (SELECT 1 FROM users)
ON CONFLICT (id) DO NOTHING`;

/** SQLSTATEs of a lost CREATE TABLE IF NOT EXISTS race between two sessions. */
const CREATE_RACE = new Set(['23505', '42P07']);

/**
 * Creates the `users` table when missing and seeds users `1`…`seedUsers` when it is empty.
 * Idempotent and safe to run from several instances at once.
 */
export async function prepareDatabase(
  db: Queryable,
  options: { seedUsers: number },
): Promise<void> {
  if (!Number.isInteger(options.seedUsers) || options.seedUsers < 0) {
    throw new TypeError('`seedUsers` must be a non-negative integer');
  }
  try {
    await db.query(CREATE_TABLE);
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (!code || !CREATE_RACE.has(code)) throw error;
    await db.query(CREATE_TABLE);
  }
  if (options.seedUsers > 0) await db.query(SEED, [options.seedUsers]);
}
