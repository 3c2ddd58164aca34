package ledger

import (
	"testing"

	"github.com/benefits-ledger/ledger/domain"
	"github.com/benefits-ledger/ledger/internal/gen"
	"github.com/benefits-ledger/ledger/projections"
)

// TestViewCacheStaysWithinBudget: the query cache never holds more bytes
// than its budget, keeps what fits, evicts to make room, counts a replaced
// View once, and keeps no View larger than the whole budget.
func TestViewCacheStaysWithinBudget(t *testing.T) {
	book, err := gen.Book(gen.Config{Events: 6000, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	ids := book.PartnerIDs()
	views := map[string]*domain.View{}
	var total, largest int64
	for _, id := range ids {
		v := domain.Compile(book.Policy(), book.Partner(id), domain.AllKnown).Detach()
		views[id] = v
		total += v.Bytes()
		largest = max(largest, v.Bytes())
	}
	check := func(c *viewCache) {
		t.Helper()
		var sum int64
		for id, e := range c.m {
			if e.v != views[id] || e.weight != e.v.Bytes() {
				t.Fatalf("%s: cached %p weighing %d, want %p weighing %d", id, e.v, e.weight, views[id], views[id].Bytes())
			}
			sum += e.weight
		}
		if sum != c.size || c.size > c.budget {
			t.Fatalf("cache counts %d bytes, holds %d, budget %d", c.size, sum, c.budget)
		}
	}

	// Everything fits: everything is kept, and answers.
	all := newViewCache(total)
	for _, id := range ids {
		all.put(id, 1, views[id], modelsStamp{})
		check(all)
	}
	if len(all.m) != len(ids) {
		t.Fatalf("a budget of all the Views keeps %d of %d", len(all.m), len(ids))
	}
	for _, id := range ids {
		if v, ok := all.get(id, 1, modelsStamp{}); !ok || v != views[id] {
			t.Fatalf("%s: not answered from the cache", id)
		}
		if _, ok := all.get(id, 2, modelsStamp{}); ok {
			t.Fatalf("%s: answered for another sequence", id)
		}
	}
	// Putting a View again replaces it and counts it once.
	all.put(ids[0], 2, views[ids[0]], modelsStamp{})
	check(all)
	if _, ok := all.get(ids[0], 1, modelsStamp{}); ok {
		t.Fatal("the replaced View still answers")
	}

	// A third of the bytes: the cache evicts, stays within budget, and the
	// View just put is always kept.
	third := newViewCache(max(total/3, largest))
	for _, id := range append(ids, ids...) {
		third.put(id, 1, views[id], modelsStamp{})
		check(third)
		if _, ok := third.get(id, 1, modelsStamp{}); !ok {
			t.Fatalf("%s: the View just put is not kept", id)
		}
	}
	if n := len(third.m); n == 0 || n >= len(ids) {
		t.Fatalf("a third of the budget keeps %d of %d Views", n, len(ids))
	}

	// A View larger than the budget is not kept.
	small := newViewCache(largest - 1)
	for _, id := range ids {
		small.put(id, 1, views[id], modelsStamp{})
		check(small)
		if _, ok := small.get(id, 1, modelsStamp{}); ok != (views[id].Bytes() <= largest-1) {
			t.Fatalf("%s: a View of %d bytes kept %v under a budget of %d", id, views[id].Bytes(), ok, largest-1)
		}
	}
	none := newViewCache(0)
	none.put(ids[0], 1, views[ids[0]], modelsStamp{})
	if len(none.m) != 0 {
		t.Fatal("a cache without budget keeps a View")
	}
	// A partner's View grown past the budget takes its older View out.
	grown := newViewCache(views[ids[0]].Bytes())
	grown.put(ids[0], 1, views[ids[0]], modelsStamp{})
	big := ids[0]
	for _, id := range ids {
		if views[id].Bytes() > views[big].Bytes() {
			big = id
		}
	}
	if big == ids[0] {
		t.Fatal("the generated program's first partner has the largest View")
	}
	grown.put(ids[0], 2, views[big], modelsStamp{})
	if len(grown.m) != 0 || grown.size != 0 {
		t.Fatalf("after a View too large for the budget the cache holds %d Views, %d bytes", len(grown.m), grown.size)
	}
}

// TestQueriesCacheBudget: NewQueries takes 0 for the default budget and a
// negative budget for no cache (ledger serve --query-cache-bytes 0).
func TestQueriesCacheBudget(t *testing.T) {
	for _, c := range []struct{ give, want int64 }{{0, DefaultQueryCacheBytes}, {-1, 0}, {1 << 20, 1 << 20}} {
		if got := NewQueries(nil, nil, nil, nil, nil, c.give).cache.budget; got != c.want {
			t.Errorf("NewQueries(…, %d): a budget of %d bytes, want %d", c.give, got, c.want)
		}
	}
}

// TestViewCacheStamps: a View is current only at the very stamp it was last
// found current at — not at the zero stamp, not after another write, not on
// another Store — and a validation by last sequence (get) moves the stamp.
func TestViewCacheStamps(t *testing.T) {
	book, err := gen.Book(gen.Config{Events: 600, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	id := book.PartnerIDs()[0]
	v := domain.Compile(book.Policy(), book.Partner(id), domain.AllKnown).Detach()
	a, b := &projections.Store{}, &projections.Store{}
	c := newViewCache(DefaultQueryCacheBytes)
	c.put(id, 7, v, modelsStamp{a, 3})
	for _, tc := range []struct {
		name string
		s    modelsStamp
		want bool
	}{
		{"the stamp it was put at", modelsStamp{a, 3}, true},
		{"the zero stamp", modelsStamp{}, false},
		{"after a write", modelsStamp{a, 4}, false},
		{"another store", modelsStamp{b, 3}, false},
	} {
		if got, ok := c.current(id, tc.s); ok != tc.want || (ok && got != v) {
			t.Errorf("%s: current %v, want %v", tc.name, ok, tc.want)
		}
	}
	if _, ok := c.current("P-none", modelsStamp{a, 3}); ok {
		t.Error("a partner never cached is current")
	}
	if _, ok := c.get(id, 8, modelsStamp{a, 5}); ok {
		t.Error("get took a View compiled at another last sequence")
	}
	if _, ok := c.current(id, modelsStamp{a, 5}); ok {
		t.Error("a failed validation marked the View current")
	}
	if got, ok := c.get(id, 7, modelsStamp{a, 5}); !ok || got != v {
		t.Fatal("get refused the View at its last sequence")
	}
	if _, ok := c.current(id, modelsStamp{a, 5}); !ok {
		t.Error("a validation did not mark the View current at its stamp")
	}
	if _, ok := c.current(id, modelsStamp{a, 3}); ok {
		t.Error("the View is still current at the stamp before its validation")
	}
}
