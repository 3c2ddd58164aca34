package gen

// item is one scheduled happening. at is its place in the feed (when it
// reaches the ledger); t is its event time. They are equal except for late
// arrivals, whose event time lies in the past of their place in the log.
type item struct {
	at   int64  // arrival, Unix seconds: the log is ordered by (at, ord)
	ord  uint64 // scheduling order, breaks ties deterministically
	t    int64  // event time, Unix seconds
	n    int64  // sale number, period, benefit mask, offer index…
	p    int32  // partner index
	x    int32  // offer index, benefit index…
	kind uint8
	a    uint8 // small argument: confidence, reason, metric…
}

// queue is a binary min-heap of items by (at, ord).
type queue []item

func (q queue) less(i, j int) bool {
	if q[i].at != q[j].at {
		return q[i].at < q[j].at
	}
	return q[i].ord < q[j].ord
}

func (q *queue) push(it item) {
	*q = append(*q, it)
	h := *q
	for i := len(h) - 1; i > 0; {
		parent := (i - 1) / 2
		if !h.less(i, parent) {
			break
		}
		h[i], h[parent] = h[parent], h[i]
		i = parent
	}
}

func (q *queue) pop() item {
	h := *q
	top := h[0]
	last := len(h) - 1
	h[0] = h[last]
	h = h[:last]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < len(h) && h.less(l, m) {
			m = l
		}
		if r < len(h) && h.less(r, m) {
			m = r
		}
		if m == i {
			break
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
	*q = h
	return top
}
