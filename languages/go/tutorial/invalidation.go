package tutorial

import "context"

// #region tutorial:delete-on-write

// Put writes the user to the database first and only then deletes its cache entry: the next
// read misses and loads the new row. (The other order lets a reader reload the old row between
// the DEL and the write.)
func (c *UserCache) Put(ctx context.Context, id, name, email string, age int) (User, error) {
	user, err := c.db.Put(ctx, id, name, email, age)
	if err != nil {
		return User{}, err
	}
	// A failed DEL leaves the old value for up to the TTL: the TTL is the safety net.
	_ = c.rdb.Del(ctx, userKey(id)).Err()
	return user, nil
}

// #endregion tutorial:delete-on-write
