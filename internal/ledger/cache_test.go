package ledger

import (
	"testing"

	"github.com/benefits-ledger/ledger/domain"
	"github.com/benefits-ledger/ledger/internal/gen"
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
		all.put(id, 1, views[id])
		check(all)
	}
	if len(all.m) != len(ids) {
		t.Fatalf("a budget of all the Views keeps %d of %d", len(all.m), len(ids))
	}
	for _, id := range ids {
		if v, ok := all.get(id, 1); !ok || v != views[id] {
			t.Fatalf("%s: not answered from the cache", id)
		}
		if _, ok := all.get(id, 2); ok {
			t.Fatalf("%s: answered for another sequence", id)
		}
	}
	// Putting a View again replaces it and counts it once.
	all.put(ids[0], 2, views[ids[0]])
	check(all)
	if _, ok := all.get(ids[0], 1); ok {
		t.Fatal("the replaced View still answers")
	}

	// A third of the bytes: the cache evicts, stays within budget, and the
	// View just put is always kept.
	third := newViewCache(max(total/3, largest))
	for _, id := range append(ids, ids...) {
		third.put(id, 1, views[id])
		check(third)
		if _, ok := third.get(id, 1); !ok {
			t.Fatalf("%s: the View just put is not kept", id)
		}
	}
	if n := len(third.m); n == 0 || n >= len(ids) {
		t.Fatalf("a third of the budget keeps %d of %d Views", n, len(ids))
	}

	// A View larger than the budget is not kept.
	small := newViewCache(largest - 1)
	for _, id := range ids {
		small.put(id, 1, views[id])
		check(small)
		if _, ok := small.get(id, 1); ok != (views[id].Bytes() <= largest-1) {
			t.Fatalf("%s: a View of %d bytes kept %v under a budget of %d", id, views[id].Bytes(), ok, largest-1)
		}
	}
	none := newViewCache(0)
	none.put(ids[0], 1, views[ids[0]])
	if len(none.m) != 0 {
		t.Fatal("a cache without budget keeps a View")
	}
	// A partner's View grown past the budget takes its older View out.
	grown := newViewCache(views[ids[0]].Bytes())
	grown.put(ids[0], 1, views[ids[0]])
	big := ids[0]
	for _, id := range ids {
		if views[id].Bytes() > views[big].Bytes() {
			big = id
		}
	}
	if big == ids[0] {
		t.Fatal("the generated program's first partner has the largest View")
	}
	grown.put(ids[0], 2, views[big])
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
