package domain

import (
	"cmp"
	"slices"
	"time"
)

// point is one dated contribution to a track.
type point struct {
	at  int64 // event time, Unix nanoseconds
	v   int64
	seq uint64
}

func sortPoints(ps []point) {
	slices.SortFunc(ps, func(a, b point) int {
		if c := cmp.Compare(a.at, b.at); c != 0 {
			return c
		}
		return cmp.Compare(a.seq, b.seq)
	})
}

// series answers sums of a time-sorted track over cumulative and trailing
// windows in O(log n) through prefix sums.
type series struct {
	at  []int64
	sum []int64 // sum[i] is the total of the first i points
}

func newSeries(ps []point) series {
	sortPoints(ps)
	s := series{at: make([]int64, len(ps)), sum: make([]int64, len(ps)+1)}
	for i, p := range ps {
		s.at[i] = p.at
		s.sum[i+1] = s.sum[i] + p.v
	}
	return s
}

// count is the number of points at or before t.
func (s series) count(t time.Time) int {
	n := t.UnixNano()
	i, _ := slices.BinarySearchFunc(s.at, n, func(a, b int64) int {
		if a <= b {
			return -1
		}
		return 1
	})
	return i
}

// upTo sums the points at or before t.
func (s series) upTo(t time.Time) int64 { return s.sum[s.count(t)] }

// ttm sums the points in the trailing twelve months at t: (t − 1 year, t].
func (s series) ttm(t time.Time) int64 { return s.upTo(t) - s.upTo(ttmStart(t)) }

// over returns the cumulative or TTM sum at t.
func (s series) over(t time.Time, ttm bool) int64 {
	if ttm {
		return s.ttm(t)
	}
	return s.upTo(t)
}

// maxSeries answers the largest value over cumulative and trailing windows.
type maxSeries struct {
	series
	v      []int64
	prefix []int64 // prefix[i] is the largest of the first i values
}

func newMaxSeries(ps []point) maxSeries {
	m := maxSeries{series: newSeries(ps), v: make([]int64, len(ps)), prefix: make([]int64, len(ps)+1)}
	for i, p := range ps {
		m.v[i] = p.v
		m.prefix[i+1] = max(m.prefix[i], p.v)
	}
	return m
}

func (m maxSeries) over(t time.Time, ttm bool) int64 {
	hi := m.count(t)
	if !ttm {
		return m.prefix[hi]
	}
	var best int64
	for _, v := range m.v[m.count(ttmStart(t)):hi] {
		best = max(best, v)
	}
	return best
}

// cursor reads a series at increasing instants in O(1) amortized: the
// compile sweep visits instants in order, so binary searches are not needed.
type cursor struct {
	s      *series
	hi, lo int // points at or before t; points at or before ttmStart(t)
}

func (c *cursor) advance(n *int, t int64) {
	for *n < len(c.s.at) && c.s.at[*n] <= t {
		*n++
	}
}

// over is series.over for a t no earlier than the previous call's; lo is
// ttmStart(t) in Unix nanoseconds.
func (c *cursor) over(t, lo int64, ttm bool) int64 {
	c.advance(&c.hi, t)
	if !ttm {
		return c.s.sum[c.hi]
	}
	c.advance(&c.lo, lo)
	return c.s.sum[c.hi] - c.s.sum[c.lo]
}
