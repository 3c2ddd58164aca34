package ledger

import (
	"sync"

	"github.com/benefits-ledger/ledger/domain"
)

// viewCache keeps recently queried partners (with their compiled views)
// within a budget counted in events, the measure of what a partner costs in
// memory. Eviction is random — Go's map order — which needs no bookkeeping
// on the read path and does well on skewed access.
type viewCache struct {
	mu     sync.Mutex
	budget int64
	size   int64
	m      map[string]*domain.Partner
}

func newViewCache(budget int64) *viewCache {
	return &viewCache{budget: budget, m: map[string]*domain.Partner{}}
}

// get returns the cached partner if it is at lastSeq.
func (c *viewCache) get(id string, lastSeq uint64) (*domain.Partner, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p, ok := c.m[id]
	if !ok || p.LastSeq() != lastSeq {
		return nil, false
	}
	return p, true
}

// put caches p, evicting others to stay within the budget.
func (c *viewCache) put(p *domain.Partner) {
	cost := weight(p)
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.m[p.ID]; ok {
		c.size -= weight(old)
	}
	for id, q := range c.m {
		if c.size+cost <= c.budget {
			break
		}
		delete(c.m, id)
		c.size -= weight(q)
	}
	c.m[p.ID] = p
	c.size += cost
}

func weight(p *domain.Partner) int64 {
	if p.Core == nil {
		return 1
	}
	return p.Core.Events + 1
}
