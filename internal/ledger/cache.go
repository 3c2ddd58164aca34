package ledger

import (
	"sync"

	"github.com/benefits-ledger/ledger/domain"
)

// viewCache keeps the detached Views of recently queried partners within a
// budget counted in facts' worth (domain.View.Footprint). Eviction is random
// — Go's map order — which needs no bookkeeping on the read path and does
// well on skewed access.
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

// put caches a View, evicting others to stay within the budget.
func (c *viewCache) put(id string, lastSeq uint64, v *domain.View) {
	e := cachedView{v: v, last: lastSeq, weight: v.Footprint()}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.m[id]; ok {
		c.size -= old.weight
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
