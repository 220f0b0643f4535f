package scim

import (
	"container/list"
	"sync"
)

// lru is a bounded cache of parsed filters and paths, keyed by their
// text. IdPs repeat a handful of filter shapes; parsing one costs about
// 100µs and a thousand allocations, looking it up well under 1µs.
type lru[V any] struct {
	mu    sync.Mutex
	max   int
	order *list.List // front: most recently used
	items map[string]*list.Element
}

type lruEntry[V any] struct {
	key string
	val V
	err error
}

func newLRU[V any](max int) *lru[V] {
	return &lru[V]{max: max, order: list.New(), items: make(map[string]*list.Element, max)}
}

// get returns the cached value (or cached error) for key.
func (c *lru[V]) get(key string) (*lruEntry[V], bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[key]; ok {
		c.order.MoveToFront(e)
		return e.Value.(*lruEntry[V]), true
	}
	return nil, false
}

func (c *lru[V]) put(key string, val V, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[key]; ok {
		c.order.MoveToFront(e)
		e.Value = &lruEntry[V]{key, val, err}
		return
	}
	c.items[key] = c.order.PushFront(&lruEntry[V]{key, val, err})
	for c.order.Len() > c.max {
		last := c.order.Back()
		c.order.Remove(last)
		delete(c.items, last.Value.(*lruEntry[V]).key)
	}
}

func (c *lru[V]) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}
