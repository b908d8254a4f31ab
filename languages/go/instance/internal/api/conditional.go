package api

import (
	"net/http"
	"regexp"
	"strconv"
	"strings"
)

// maxEntityTags is the longest list one If-Match / If-None-Match may carry.
const maxEntityTags = 64

var (
	// RFC 9110 §8.8.3: entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE.
	entityTagPattern = regexp.MustCompile(`^(W/)?"([\x21\x23-\x7E\x80-\xFF]*)"$`)
	versionTag       = regexp.MustCompile(`^v(\d{1,16})$`)
)

// entityTag is one tag of a header: its opaque part and whether it is weak.
type entityTag struct {
	opaque string
	weak   bool
}

// tagCondition is a parsed If-Match / If-None-Match: any (*) or a list.
type tagCondition struct {
	any  bool
	tags []entityTag
}

func etagOf(version int64) string { return `"v` + itoa(version) + `"` }

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// parseEntityTags reads a header (all its lines joined, as Node joins them); nil when absent,
// a 400 E_INVALID_HEADER when malformed.
func parseEntityTags(name string, header http.Header) (*tagCondition, error) {
	values := header.Values(name)
	if len(values) == 0 {
		return nil, nil
	}
	value := strings.TrimSpace(strings.Join(values, ", "))
	if value == "*" {
		return &tagCondition{any: true}, nil
	}
	parts := strings.Split(value, ",")
	var tags []entityTag
	for _, part := range parts {
		part = strings.TrimSpace(part)
		if part == "" && len(parts) > 1 {
			continue
		}
		m := entityTagPattern.FindStringSubmatch(part)
		if m == nil || len(tags) >= maxEntityTags {
			return nil, malformedTags(name)
		}
		tags = append(tags, entityTag{opaque: m[2], weak: m[1] != ""})
	}
	if len(tags) == 0 {
		return nil, malformedTags(name)
	}
	return &tagCondition{tags: tags}, nil
}

func malformedTags(name string) error {
	return fail(400, codeInvalidHeader, "`"+name+"` must be * or a list of at most 64 entity tags such as \"v7\"")
}

// versionOf is the version a tag of ours names ("v7" → 7).
func versionOf(tag entityTag) (int64, bool) {
	m := versionTag.FindStringSubmatch(tag.opaque)
	if m == nil {
		return 0, false
	}
	v, err := strconv.ParseInt(m[1], 10, 64)
	return v, err == nil && v <= 1<<53-1
}

// noneMatchFails: If-None-Match by weak comparison; true means 304.
func (c *tagCondition) noneMatchFails(version int64) bool {
	if c.any {
		return true
	}
	for _, tag := range c.tags {
		if v, ok := versionOf(tag); ok && v == version {
			return true
		}
	}
	return false
}

// acceptedVersions: If-Match by strong comparison; weak tags and tags not ours match nothing.
func (c *tagCondition) acceptedVersions() (any bool, versions []int64) {
	if c.any {
		return true, nil
	}
	versions = []int64{}
	for _, tag := range c.tags {
		if v, ok := versionOf(tag); ok && !tag.weak {
			versions = append(versions, v)
		}
	}
	return false, versions
}
