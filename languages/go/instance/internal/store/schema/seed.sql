
SET LOCAL cachelab.seeding = 'on';
INSERT INTO users (id, name, email, age)
SELECT g::text, 'User ' || g, 'user' || g || '@example.com', 18 + g % 60
FROM generate_series(1, ${count}) AS g
WHERE NOT EXISTS (SELECT 1 FROM users)
ON CONFLICT (id) DO NOTHING