package ledger

import (
	"sync"

	"github.com/benefits-ledger/ledger/domain"
)

// DefaultQueryCacheBytes is the query cache's default budget: the detached
// Views of about 10,000 partners of 300 events (the View of one holds about
// 11 KB: its tier model's prefix sums, its activations and offers). Queries
// spread over more partners than fit load and compile most of them from
// the read models, each miss at several times a hit's cost and allocating
// the partner's facts, about 80 KB, as garbage (the README's memory section
// measures the old budget of about 4,000 partners against this one).
const DefaultQueryCacheBytes = 128 << 20

// viewCache keeps the detached Views of recently queried partners within a
// budget of bytes (domain.View.Bytes). Eviction is random — Go's map order
// — which needs no bookkeeping on the read path and does well on skewed
// access.
type viewCache struct {
	mu     sync.Mutex
	budget int64
	size   int64
	m      map[string]cachedView
}

type cachedView struct {
	v      *domain.View
	last   uint64 // the partner's last sequence the View was compiled at
	weight int64
}

func newViewCache(budget int64) *viewCache {
	return &viewCache{budget: budget, m: map[string]cachedView{}}
}

// get returns the cached View if it was compiled at lastSeq.
func (c *viewCache) get(id string, lastSeq uint64) (*domain.View, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[id]
	if !ok || e.last != lastSeq {
		return nil, false
	}
	return e.v, true
}

// put caches a View in place of the partner's older one, evicting others
// to stay within the budget. A View larger than the whole budget is not
// kept (the older one goes all the same: it can no longer answer).
func (c *viewCache) put(id string, lastSeq uint64, v *domain.View) {
	e := cachedView{v: v, last: lastSeq, weight: v.Bytes()}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.m[id]; ok {
		delete(c.m, id)
		c.size -= old.weight
	}
	if e.weight > c.budget {
		return
	}
	for k, o := range c.m {
		if c.size+e.weight <= c.budget {
			break
		}
		delete(c.m, k)
		c.size -= o.weight
	}
	c.m[id] = e
	c.size += e.weight
}
