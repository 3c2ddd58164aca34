package ledger

import (
	"sync"

	"github.com/benefits-ledger/ledger/domain"
	"github.com/benefits-ledger/ledger/projections"
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
	seen   modelsStamp // when the View was last found current
}

// modelsStamp is a moment of the read models: which Store, and how many
// writes it had finished (Store.Writes), read before reading anything from
// it. A View found current at a stamp stays current while the stamp is
// unchanged — but for a write committed and not yet counted, which the
// projector has not yet published either (Store.Writes) — so a repeated
// question needs no read transaction to validate it. The zero stamp
// matches nothing.
type modelsStamp struct {
	models *projections.Store
	writes uint64
}

// modelsStampOf returns m's stamp now: take it before reading m.
func modelsStampOf(m *projections.Store) modelsStamp { return modelsStamp{m, m.Writes()} }

func newViewCache(budget int64) *viewCache {
	return &viewCache{budget: budget, m: map[string]cachedView{}}
}

// current returns the cached View if it was found current at stamp s:
// nothing has been written to the read models since.
func (c *viewCache) current(id string, s modelsStamp) (*domain.View, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[id]
	if !ok || s.models == nil || e.seen != s {
		return nil, false
	}
	return e.v, true
}

// get returns the cached View if it was compiled at lastSeq, the partner's
// last sequence the read models held at stamp s, and marks it current at s.
func (c *viewCache) get(id string, lastSeq uint64, s modelsStamp) (*domain.View, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[id]
	if !ok || e.last != lastSeq {
		return nil, false
	}
	if e.seen != s {
		e.seen = s
		c.m[id] = e
	}
	return e.v, true
}

// put caches a View compiled from the read models as they were at stamp s
// (the partner's last sequence lastSeq) in place of the partner's older
// one, evicting others to stay within the budget. A View larger than the
// whole budget is not kept (the older one goes all the same: it can no
// longer answer).
func (c *viewCache) put(id string, lastSeq uint64, v *domain.View, s modelsStamp) {
	e := cachedView{v: v, last: lastSeq, weight: v.Bytes(), seen: s}
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
