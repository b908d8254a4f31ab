/** The slice of a `pg` Pool (or a PGlite instance) that the store uses. */
export interface Queryable {
  /** Runs one parameterised statement. */
  query(text: string, params?: unknown[]): Promise<{ rows: unknown[] }>;
}
