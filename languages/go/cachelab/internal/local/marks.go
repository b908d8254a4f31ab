package local

import "container/list"

// Marks are the high-water marks: per key, the highest version announced (or written here), at
// most max keys; the key raised least recently is forgotten first.
type Marks struct {
	max       int
	marks     map[string]*list.Element
	order     *list.List // of *mark, least recently raised first
	evictions int64
}

type mark struct {
	key     string
	version int64
}

// NewMarks returns marks for at most max keys.
func NewMarks(max int) *Marks {
	return &Marks{max: max, marks: map[string]*list.Element{}, order: list.New()}
}

// Get is the mark of key, 0 when none is known.
func (m *Marks) Get(key string) int64 {
	if el, ok := m.marks[key]; ok {
		return el.Value.(*mark).version
	}
	return 0
}

// Raise raises the mark of key to version; it reports whether the mark rose.
func (m *Marks) Raise(key string, version int64) bool {
	if el, ok := m.marks[key]; ok {
		mk := el.Value.(*mark)
		if mk.version >= version {
			return false
		}
		mk.version = version
		m.order.MoveToBack(el) // raised last, kept longest
		return true
	}
	if len(m.marks) >= m.max {
		if oldest := m.order.Front(); oldest != nil {
			delete(m.marks, oldest.Value.(*mark).key)
			m.order.Remove(oldest)
		}
		m.evictions++
	}
	m.marks[key] = m.order.PushBack(&mark{key: key, version: version})
	return true
}

// Clear forgets every mark.
func (m *Marks) Clear() {
	clear(m.marks)
	m.order.Init()
}

// Len is the number of marks held.
func (m *Marks) Len() int { return len(m.marks) }

// Evictions counts marks forgotten to respect the bound.
func (m *Marks) Evictions() int64 { return m.evictions }
