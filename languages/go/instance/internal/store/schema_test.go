package store

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestSchemaMatchesNode fails when schema/*.sql differ from the statements of the Node store
// (packages/store/src/schema.ts), which every instance, in either language, runs at start.
func TestSchemaMatchesNode(t *testing.T) {
	raw, err := os.ReadFile("../../../../../packages/store/src/schema.ts")
	if err != nil {
		t.Skipf("no packages/store/src/schema.ts in this checkout: %v", err)
	}
	src := string(raw)
	template := func(pattern string) string {
		m := regexp.MustCompile(`(?s)` + pattern + "`(.*?)`;").FindStringSubmatch(src)
		if m == nil {
			t.Fatalf("schema.ts has no %s", pattern)
		}
		return m[1]
	}
	substitute := strings.NewReplacer("${USER_KEY_PREFIX}", "user:", "${WAKE_RELAY_SETTING}", "cachelab.wake_relay",
		"${OUTBOX_CHANNEL}", "cachelab_outbox")
	for _, c := range []struct{ name, got, want string }{
		{"create-table.sql", createTable, template(`const CREATE_TABLE = `)},
		{"migrate.sql", migrate, substitute.Replace(template(`const MIGRATE = `))},
		{"seed.sql", seedTemplate, template(`const seed = \(count: number\) => `)},
	} {
		if c.got != c.want {
			t.Errorf("schema/%s differs from packages/store/src/schema.ts:\n%s\n---\n%s", c.name, c.got, c.want)
		}
		if strings.Contains(c.got, "${") && c.name != "seed.sql" {
			t.Errorf("schema/%s has an unsubstituted ${…}", c.name)
		}
	}
	if !strings.Contains(src, "export const OUTBOX_CHANNEL = 'cachelab_outbox'") ||
		!strings.Contains(src, "export const WAKE_RELAY_SETTING = 'cachelab.wake_relay'") ||
		!strings.Contains(src, "export const USER_KEY_PREFIX = 'user:'") {
		t.Error("the constants substituted into migrate.sql changed in schema.ts")
	}
}
